package lowbit.tensor.simd.panama;

import lowbit.tensor.simd.AffineFitKernels;
import lowbit.tensor.simd.AffineKernels;
import lowbit.tensor.simd.CodebookKernels;
import lowbit.tensor.simd.DenseKernels;
import lowbit.tensor.simd.DoubleKernels;
import lowbit.tensor.simd.FloatKernels;
import lowbit.tensor.simd.PackKernels;
import lowbit.tensor.simd.GgmlKernels;
import lowbit.tensor.simd.HalfKernels;
import lowbit.tensor.simd.KQuantKernels;
import lowbit.tensor.simd.SparseKernels;
import lowbit.tensor.simd.VectorizationProvider;

/**
 * The Vector API implementation. Instantiated reflectively by {@link VectorizationProvider} only when
 * {@code jdk.incubator.vector} is present; its constructor refuses (with a reason) when vectors would not help.
 */
public final class PanamaProvider extends VectorizationProvider {
    private final FloatKernels floats;
    private final DenseKernels dense = new PanamaDenseKernels();
    private final PackKernels packing;
    private final GgmlKernels ggml;
    private final HalfKernels halves;
    private final KQuantKernels kquants;
    private final AffineKernels affine;
    private final AffineFitKernels affineFit = new PanamaAffineFitKernels();
    private final CodebookKernels codebooks;
    private final DoubleKernels doubles = new PanamaDoubleKernels();
    private final SparseKernels sparse;

    /**
     * @param requestedBits the width asked for with {@code -Dlowbit.vector.bits}, or 0 for the preferred one
     */
    public PanamaProvider(int requestedBits) {
        if (requestedBits == 0 && Species.PREFERRED_BITS < 128) {
            throw new UnsupportedOperationException(
                    "the preferred vector size is " + Species.PREFERRED_BITS + " bits, below the 128 that SIMD kernels need");
        }
        if (Species.BITS > Species.PREFERRED_BITS) {
            System.getLogger("lowbit.tensor.simd").log(System.Logger.Level.WARNING,
                    "lowbit: " + Species.BITS + "-bit vectors were requested but the hardware prefers "
                            + Species.PREFERRED_BITS + "; they will be emulated (correct but slow)");
        }
        this.floats = new PanamaFloatKernels();
        this.packing = new PanamaPackKernels();
        this.ggml = new PanamaGgmlKernels();
        this.halves = new PanamaHalfKernels();
        this.affine = new PanamaAffineKernels();
        this.codebooks = new PanamaCodebookKernels();
        this.kquants = new PanamaKQuantKernels();
        this.sparse = new PanamaSparseKernels();
    }

    @Override
    public String name() {
        return "panama";
    }

    @Override
    public int vectorBitSize() {
        return Species.BITS;
    }

    @Override
    public FloatKernels floats() {
        return floats;
    }

    @Override
    public DenseKernels dense() {
        return dense;
    }

    @Override
    public PackKernels packing() {
        return packing;
    }

    @Override
    public GgmlKernels ggml() {
        return ggml;
    }

    @Override
    public HalfKernels halves() {
        return halves;
    }

    @Override
    public KQuantKernels kquants() {
        return kquants;
    }

    @Override
    public AffineKernels affine() {
        return affine;
    }

    @Override
    public AffineFitKernels affineFit() {
        return affineFit;
    }

    @Override
    public CodebookKernels codebooks() {
        return codebooks;
    }

    @Override
    public DoubleKernels doubles() {
        return doubles;
    }

    @Override
    public SparseKernels sparse() {
        return sparse;
    }
}
