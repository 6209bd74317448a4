package lowbit.nn.adapter;

/**
 * How a LoRA adapter's A and B start (PEFT's {@code init_lora_weights}):
 * <ul>
 *   <li>{@link #DEFAULT} ({@code true}): A Kaiming-uniform with a = √5 (U(±1/√in)), B = 0 — ΔW starts at 0;</li>
 *   <li>{@link #GAUSSIAN} ({@code "gaussian"}): A ~ N(0, σ = 1/r) (PEFT's {@code std=1/r}), B = 0;</li>
 *   <li>{@link #RANDOM} ({@code false}): A and B both as {@code nn.Linear}'s default (Kaiming-uniform, a = √5, bound
 *       1/√fan_in) — ΔW ≠ 0, for tests;</li>
 *   <li>{@link #PISSA} ({@code "pissa"}, Meng et al., <i>PiSSA: Principal Singular Values and Singular Vectors
 *       Adaptation of LLMs</i>, 2024): W = U Σ Vᵀ; A = diag(√(Σ_r/s))·V_rᵀ, B = U_r·diag(√(Σ_r/s)); the base becomes
 *       W − s·B·A, so the layer is unchanged;</li>
 *   <li>{@link #pissaRandomized(int)} ({@code "pissa_niter_K"}): the same from a randomized SVD with K power
 *       iterations (Halko, Martinsson &amp; Tropp 2011) — fast for large W;</li>
 *   <li>{@link #OLORA} ({@code "olora"}, Büyükakyüz, <i>OLoRA: Orthonormal Low-Rank Adaptation of LLMs</i>, 2024):
 *       W = Q R (Householder, LAPACK's sign convention as {@code torch.linalg.qr}); B = Q[:, :r], A = R[:r, :]; the
 *       base becomes W − s·B·A.</li>
 * </ul>
 *
 * @param kind the family
 * @param powerIterations for the randomized PiSSA, else 0
 */
public record LoraInit(Kind kind, int powerIterations) {
    /** The initialisation families. */
    public enum Kind { DEFAULT, GAUSSIAN, RANDOM, PISSA, PISSA_RANDOMIZED, OLORA }

    public static final LoraInit DEFAULT = new LoraInit(Kind.DEFAULT, 0);
    public static final LoraInit GAUSSIAN = new LoraInit(Kind.GAUSSIAN, 0);
    public static final LoraInit RANDOM = new LoraInit(Kind.RANDOM, 0);
    public static final LoraInit PISSA = new LoraInit(Kind.PISSA, 0);
    public static final LoraInit OLORA = new LoraInit(Kind.OLORA, 0);

    public LoraInit {
        if (kind == null) {
            throw new IllegalArgumentException("init kind is null");
        }
        if (powerIterations < 0 || (kind != Kind.PISSA_RANDOMIZED && powerIterations != 0)) {
            throw new IllegalArgumentException("power iterations " + powerIterations + " for " + kind);
        }
    }

    /** PiSSA from a randomized SVD with {@code niter} power iterations (PEFT's {@code "pissa_niter_<niter>"}). */
    public static LoraInit pissaRandomized(int niter) {
        return new LoraInit(Kind.PISSA_RANDOMIZED, niter);
    }

    /** Whether the init reads W and leaves a residual base. */
    public boolean changesBase() {
        return kind == Kind.PISSA || kind == Kind.PISSA_RANDOMIZED || kind == Kind.OLORA;
    }

    /** PEFT's {@code init_lora_weights} value: Boolean.TRUE/FALSE or a string. */
    public Object peftValue() {
        return switch (kind) {
            case DEFAULT -> Boolean.TRUE;
            case RANDOM -> Boolean.FALSE;
            case GAUSSIAN -> "gaussian";
            case PISSA -> "pissa";
            case PISSA_RANDOMIZED -> "pissa_niter_" + powerIterations;
            case OLORA -> "olora";
        };
    }

    /**
     * Parses PEFT's {@code init_lora_weights} (true, false, "gaussian", "pissa", "pissa_niter_K", "olora").
     *
     * @throws IllegalArgumentException for any other value (e.g. "loftq", "eva", "corda": not supported here)
     */
    public static LoraInit fromPeft(Object v) {
        if (v == null || Boolean.TRUE.equals(v)) {
            return DEFAULT;
        }
        if (Boolean.FALSE.equals(v)) {
            return RANDOM;
        }
        String s = v.toString();
        if (s.equalsIgnoreCase("gaussian")) {
            return GAUSSIAN;
        }
        if (s.equals("pissa")) {
            return PISSA;
        }
        if (s.equalsIgnoreCase("olora")) {
            return OLORA;
        }
        if (s.startsWith("pissa_niter_")) {
            try {
                return pissaRandomized(Integer.parseInt(s.substring("pissa_niter_".length())));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("init_lora_weights \"" + s + "\": the iteration count is not an integer");
            }
        }
        throw new IllegalArgumentException("init_lora_weights " + (v instanceof String ? "\"" + v + "\"" : v)
                + " is not supported (true, false, \"gaussian\", \"pissa\", \"pissa_niter_K\", \"olora\")");
    }
}
