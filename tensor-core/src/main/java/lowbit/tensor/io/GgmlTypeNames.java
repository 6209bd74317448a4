package lowbit.tensor.io;

/** Names of the ggml type ids that {@link lowbit.tensor.ggml.GgmlType} does not list, for error messages. */
final class GgmlTypeNames {
    private GgmlTypeNames() {
    }

    /** Like {@code " (IQ2_XXS)"} for a ggml type lowbit cannot size, {@code " (removed from ggml)"}, or "". */
    static String describe(long id) {
        String name = switch ((int) Math.max(-1, Math.min(id, 1000))) {
            case 16 -> "IQ2_XXS";
            case 17 -> "IQ2_XS";
            case 18 -> "IQ3_XXS";
            case 19 -> "IQ1_S";
            case 20 -> "IQ4_NL";
            case 21 -> "IQ3_S";
            case 22 -> "IQ2_S";
            case 23 -> "IQ4_XS";
            case 29 -> "IQ1_M";
            case 34 -> "TQ1_0";
            case 35 -> "TQ2_0";
            case 39 -> "MXFP4";
            case 40 -> "NVFP4";
            case 41 -> "Q1_0";
            case 42 -> "Q2_0";
            case 4, 5, 31, 32, 33, 36, 37, 38 -> "removed from ggml";
            default -> null;
        };
        return name == null ? "" : " (" + name + ")";
    }
}
