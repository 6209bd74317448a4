package lowbit.nn;

/**
 * The sigmoid linear unit, also called swish (Elfwing, Uchibe, Doya, <i>Sigmoid-Weighted Linear Units for Neural
 * Network Function Approximation in Reinforcement Learning</i>, 2017; Ramachandran et al., <i>Searching for
 * Activation Functions</i>, 2017), the activation of LLaMA's gated FFN:
 * <pre>
 *   silu(x) = x·σ(x),   σ(x) = 1/(1 + e^(−x))
 *   silu'(x) = σ(x)·(1 + x·(1 − σ(x)))
 * </pre>
 * Evaluated in double and rounded to float.
 */
public final class Silu implements Activation {
    /** The activation (stateless). */
    public static final Silu INSTANCE = new Silu();

    private Silu() {
    }

    private static double sigmoid(double x) {
        return 1.0 / (1.0 + Math.exp(-x));
    }

    @Override
    public float apply(float x) {
        return (float) (x * sigmoid(x));
    }

    @Override
    public float derivative(float x) {
        double s = sigmoid(x);
        return (float) (s * (1.0 + x * (1.0 - s)));
    }

    @Override
    public String toString() {
        return "SiLU";
    }
}
