package lowbit.nn.adapter;

/** One forward call of an {@link AdaptedLinear}: the input, and the base output shared by the adapters that use it. */
final class Pass {
    final Base base;
    final float[] x;
    final int n;
    final boolean training;
    float[] baseOutput;

    Pass(Base base, float[] x, int n, boolean training) {
        this.base = base;
        this.x = x;
        this.n = n;
        this.training = training;
    }

    /** X·Wᵀ without the bias [n, out]; set by the layer when an adapter asked for it. */
    float[] baseOutput() {
        return baseOutput;
    }
}
