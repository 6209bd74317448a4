package lowbit.tensor;

/**
 * A reference for 16-bit float formats written from the definitions, independent of the library's bit tricks: a value
 * is rounded by finding its two neighbouring representable values with exact double arithmetic and taking the nearer,
 * ties to the one with an even significand; overflow follows IEEE 754 (round as if the exponent were unbounded, then
 * anything above the largest finite value is infinite). NaNs are not handled here.
 */
final class HalfReference {
    /** IEEE binary16: 11 significand bits (with the implicit one), exponents -14..15. */
    static final HalfReference F16 = new HalfReference(11, 5);
    /** bfloat16: 8 significand bits, exponents -126..127. */
    static final HalfReference BF16 = new HalfReference(8, 8);

    private final int p;
    private final int bias;
    private final int emin;
    private final double maxFinite;

    private HalfReference(int precision, int exponentBits) {
        this.p = precision;
        this.bias = (1 << exponentBits - 1) - 1;
        this.emin = 1 - bias;
        this.maxFinite = (2 - Math.scalb(1.0, 1 - p)) * Math.scalb(1.0, bias);
    }

    /** The value of the 16-bit pattern (a double: exact), or NaN. */
    double decode(short bits) {
        int b = bits & 0xFFFF;
        int m = b & ((1 << p - 1) - 1);
        int e = (b & 0x7FFF) >>> (p - 1);
        double sign = (b & 0x8000) != 0 ? -1 : 1;
        if (e == (1 << 15 - (p - 1)) - 1) {
            return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        if (e == 0) {
            return sign * Math.scalb((double) m, emin - (p - 1));
        }
        return sign * Math.scalb((double) (m | 1 << p - 1), e - bias - (p - 1));
    }

    /** The 16-bit pattern nearest to the non-NaN float {@code f}, ties to even. */
    short round(float f) {
        double d = Math.abs((double) f);
        int sign = (Float.floatToRawIntBits(f) >>> 16) & 0x8000;
        double r;
        if (d == 0 || Double.isInfinite(d)) {
            r = d;
        } else {
            int e = Math.max(Math.getExponent(d), emin);
            double quantum = Math.scalb(1.0, e - (p - 1));
            double k = Math.floor(d / quantum); // d / quantum is exact: a power-of-two scaling
            double lower = k * quantum;
            double upper = lower + quantum;
            double below = d - lower;
            double above = upper - d; // both differences are exact: few significant bits, nearby exponents
            if (below < above || (below == above && k % 2 == 0)) {
                r = lower;
            } else {
                r = upper;
            }
        }
        return (short) (sign | encode(r));
    }

    /** The bits of a non-negative value that is a representable or larger (then infinite) magnitude. */
    private int encode(double r) {
        int expAllOnes = (1 << 15 - (p - 1)) - 1;
        if (r > maxFinite) {
            return expAllOnes << (p - 1);
        }
        if (r < Math.scalb(1.0, emin)) {
            return (int) Math.scalb(r, (p - 1) - emin); // subnormal significand (or 0)
        }
        int e = Math.getExponent(r);
        int m = (int) (Math.scalb(r, (p - 1) - e)) - (1 << p - 1);
        return (e + bias) << (p - 1) | m;
    }
}
