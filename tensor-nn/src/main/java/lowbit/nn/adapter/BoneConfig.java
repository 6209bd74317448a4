package lowbit.nn.adapter;

/**
 * Settings of a Bone adapter (Kang, <i>Bone: Block Affine Transformation as Parameter Efficient Fine-tuning Methods
 * for Large Language Models</i>, 2024) as PEFT's {@code BoneConfig} (PEFT ≤ 0.18; later renamed MiSS): the block size
 * r and {@code init_weights}: {@code true} (default structure, zero block), {@code false} (default structure,
 * Kaiming-uniform block) or {@code "bat"} (the weight-interacting Bat structure, zero blocks).
 *
 * @param r block size: 1 ≤ r ≤ in; for "bat" r must divide both in and out (checked when attached)
 * @param variant the structure
 * @param zeroInit whether the block starts at zero (PEFT's default; "bat" is always zero-initialised)
 * @param seed the seed of a random init
 */
public record BoneConfig(int r, Variant variant, boolean zeroInit, long seed) {
    /** The Bone structures. */
    public enum Variant { BONE, BAT }

    public BoneConfig {
        if (r < 1) {
            throw new IllegalArgumentException("Bone r must be a positive integer, got " + r);
        }
        if (variant == null) {
            throw new IllegalArgumentException("Bone variant is null");
        }
        if (variant == Variant.BAT && !zeroInit) {
            throw new IllegalArgumentException("Bone \"bat\" is zero-initialised (PEFT's init_weights=\"bat\")");
        }
    }

    /** The default Bone structure with a zero block ({@code init_weights=True}). */
    public static BoneConfig bone(int r) {
        return new BoneConfig(r, Variant.BONE, true, 0);
    }

    /** The Bat structure ({@code init_weights="bat"}). */
    public static BoneConfig bat(int r) {
        return new BoneConfig(r, Variant.BAT, true, 0);
    }

    /** The default structure with a Kaiming-uniform block ({@code init_weights=False}), seeded. */
    public static BoneConfig boneRandom(int r, long seed) {
        return new BoneConfig(r, Variant.BONE, false, seed);
    }

    /** PEFT's {@code init_weights}: Boolean or "bat". */
    public Object peftInitWeights() {
        return variant == Variant.BAT ? "bat" : Boolean.valueOf(zeroInit);
    }
}
