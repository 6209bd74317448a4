package lowbit.nn.adapter;

import java.util.List;
import java.util.Objects;
import lowbit.nn.Parameter;
import lowbit.tensor.linalg.Gemm;

/**
 * SORSA's orthonormality regulariser as the reference {@code calc_ortho}: the mean, over all SORSA matrices of the
 * model (each adapter's A and B count separately), of the Frobenius norms — not squared —
 * <pre>
 *   R = (1/(2L))·Σ_layers ( ‖A·Aᵀ − I_r‖_F + ‖Bᵀ·B − I_r‖_F )
 *   ∂R/∂A = (1/(2L))·2·M_A·A / ‖M_A‖_F,   M_A = A·Aᵀ − I   (symmetric)
 *   ∂R/∂B = (1/(2L))·2·B·M_B / ‖M_B‖_F,   M_B = Bᵀ·B − I
 * </pre>
 * with the gradient of a zero norm taken as 0 (as at init, where A, B are orthonormal).
 *
 * <p><b>γ.</b> The reference trainer ({@code sorsalib/src/sorsa/trainer.py}) adds this gradient <em>after</em> gradient
 * clipping and right before the optimizer step, multiplied by γ/η with η the configured (base) learning rate — so
 * with plain SGD the regulariser moves the weights by γ·∂R independently of η. {@link #trainerCoefficient} gives that
 * factor; {@link #addGradient} takes any coefficient.
 */
public final class SorsaRegularizer {
    private SorsaRegularizer() {
    }

    /** γ/η, the reference trainer's coefficient of the regulariser's gradient. */
    public static double trainerCoefficient(double gamma, double learningRate) {
        if (!(learningRate > 0) || !Double.isFinite(gamma)) {
            throw new IllegalArgumentException("SORSA needs a positive learning rate and a finite γ, got η = "
                    + learningRate + ", γ = " + gamma);
        }
        return gamma / learningRate;
    }

    /** R for the given adapters (0 for an empty list). */
    public static double value(List<SorsaAdapter> adapters) {
        return apply(adapters, 0, false);
    }

    /**
     * Adds {@code coefficient·∂R/∂A} and {@code coefficient·∂R/∂B} to the adapters' gradients and returns R.
     */
    public static double addGradient(List<SorsaAdapter> adapters, double coefficient) {
        return apply(adapters, coefficient, true);
    }

    private static double apply(List<SorsaAdapter> adapters, double coefficient, boolean grad) {
        Objects.requireNonNull(adapters, "adapters");
        if (adapters.isEmpty()) {
            return 0;
        }
        int den = 2 * adapters.size();
        double total = 0;
        for (SorsaAdapter s : adapters) {
            int r = s.rank();
            total += term(s.a(), r, s.inFeatures(), true, grad ? coefficient / den : 0, grad);
            total += term(s.b(), r, s.outFeatures(), false, grad ? coefficient / den : 0, grad);
        }
        return total / den;
    }

    /**
     * ‖M‖_F for M = A·Aᵀ − I (A [r, len], rows) or M = Bᵀ·B − I (B [len, r], columns); adds c·2·(M·A or B·M)/‖M‖.
     */
    private static double term(Parameter p, int r, int len, boolean rows, double c, boolean grad) {
        float[] x = p.data();
        double[] m = new double[r * r];
        for (int i = 0; i < r; i++) {
            for (int j = i; j < r; j++) {
                double s = 0;
                for (int t = 0; t < len; t++) {
                    s += rows ? (double) x[i * len + t] * x[j * len + t] : (double) x[t * r + i] * x[t * r + j];
                }
                if (i == j) {
                    s -= 1;
                }
                m[i * r + j] = s;
                m[j * r + i] = s;
            }
        }
        double ss = 0;
        for (double v : m) {
            ss += v * v;
        }
        double norm = Math.sqrt(ss);
        if (grad && norm > 0 && c != 0) {
            float[] mf = new float[r * r];
            for (int i = 0; i < mf.length; i++) {
                mf[i] = (float) m[i];
            }
            float k = (float) (2 * c / norm);
            if (rows) { // dA += k·M·A
                Gemm.gemm(false, false, r, len, r, k, mf, 0, r, x, 0, len, 1f, p.grad(), 0, len);
            } else { // dB += k·B·M
                Gemm.gemm(false, false, len, r, r, k, x, 0, r, mf, 0, r, 1f, p.grad(), 0, r);
            }
        }
        return norm;
    }
}
