package lowbit.tensor.ggml;

/**
 * What the ggml encoders do with NaN or &plusmn;&infin; in their input.
 *
 * <p>ggml itself does not check: a non-finite value silently corrupts its block (for instance a NaN is skipped by
 * the max search but then cast to an integer, which C leaves undefined). lowbit rejects such input by default.
 */
public enum NonFinitePolicy {
    /** Throw {@link IllegalArgumentException} naming the index of the first non-finite value; nothing is written. */
    REJECT,
    /**
     * Encode as ggml's reference does when compiled for x86-64 (C float&rarr;int8 casts of NaN or out-of-range values
     * give the low byte of {@code 0x80000000}, i.e. 0): reproducible bytes, meaningless values.
     */
    ENCODE_LIKE_GGML
}
