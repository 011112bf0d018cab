using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace VaeTools.Engine.Ops;

/// <summary>
/// The Bernoulli likelihood's element-wise core in one vectorised pass: e = exp(-|l|), softplus and the
/// sigmoid from it; and a general exp. TensorPrimitives' Exp and Log cost 1-15 ns an element here (its net8.0
/// build); these run at a fraction of that. Accuracy: within a few float ulps of the float64 functions (tested).
/// Measured: docs/performance.md, "Own exp, log and sin/cos".
/// </summary>
internal static class FastMath
{
    // exp(x) = 2^n exp(r), x = n ln2 + r, |r| <= ln2/2; Cephes' expf polynomial and split ln2.
    private const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    /// <summary>Below this exp(x) would be subnormal; it is taken as 0.</summary>
    private const float MinExponent = -87f;

    /// <summary>exp(r) for x = n ln2 + r, |r| &lt;= ln2/2 (n rounded to nearest): the caller scales by 2^n.</summary>
    private static float ExpReduced(float x, out float n)
    {
        n = MathF.Round(x * Log2E);
        float r = x - n * Ln2Hi - n * Ln2Lo;
        return ((((((P0 * r + P1) * r + P2) * r + P3) * r + P4) * r + P5) * r * r) + r + 1f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpReduced(Vector512<float> x, out Vector512<float> n)
    {
        n = Avx512F.RoundScale(x * Vector512.Create(Log2E), 0); // round to nearest
        var r = x - n * Vector512.Create(Ln2Hi) - n * Vector512.Create(Ln2Lo);
        var p = Vector512.Create(P0);
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P1));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        return p * (r * r) + r + Vector512<float>.One;
    }

    /// <summary>exp(x) for x &lt;= 0; 0 below -87 (never subnormal).</summary>
    public static float ExpNonPositive(float x)
    {
        if (x < MinExponent) return 0f;
        float p = ExpReduced(x, out float n);
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(p) + ((int)n << 23));
    }

    // The general exp's inputs are clamped to this range first: below it exp rounds to 0, above it to +inf.
    private const float ExpLow = -104f, ExpHigh = 89f;

    /// <summary>exp(x) over the whole float range (subnormal results, +inf and NaN as IEEE has them), within 2 ulps.</summary>
    public static float Exp(float x)
    {
        if (float.IsNaN(x)) return x;
        float p = ExpReduced(Math.Clamp(x, ExpLow, ExpHigh), out float n);
        // 2^n as two normal factors, so that results in the subnormal and overflow ranges round once, correctly.
        int half = (int)n >> 1, rest = (int)n - half;
        return p * BitConverter.Int32BitsToSingle((half + 127) << 23) * BitConverter.Int32BitsToSingle((rest + 127) << 23);
    }

    /// <summary>y = exp(x) element-wise (see <see cref="Exp(float)"/>); x and y may be the same span.</summary>
    public static void Exp(ReadOnlySpan<float> x, Span<float> y) => Map<ExpFunction>(x, y);

    private readonly struct ExpFunction : IFunction
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(float x) => Exp(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // inlined into Map, never run as tier-0 code
        public static Vector512<float> Vector(Vector512<float> v)
        {
            var p = ExpReduced(Vector512.Min(Vector512.Max(v, Vector512.Create(ExpLow)), Vector512.Create(ExpHigh)), out var n);
            var k = Vector512.ConvertToInt32(n);
            var half = Vector512.ShiftRightArithmetic(k, 1);
            var bias = Vector512.Create(127);
            var s1 = Vector512.ShiftLeft(half + bias, 23).AsSingle();
            var s2 = Vector512.ShiftLeft(k - half + bias, 23).AsSingle();
            return Vector512.ConditionalSelect(Vector512.Equals(v, v), p * s1 * s2, v); // NaN stays NaN
        }
    }

    /// <summary>An element-wise function with a scalar and an AVX-512 form, for <see cref="Map{TFunction}"/>.</summary>
    private interface IFunction
    {
        static abstract float Scalar(float x);
        static abstract Vector512<float> Vector(Vector512<float> x);
    }

    /// <summary>y = f(x) element-wise, 16 at a time with AVX-512 and the scalar form for the tail (or everything without it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Map<TFunction>(ReadOnlySpan<float> x, Span<float> y) where TFunction : IFunction
    {
        if (y.Length < x.Length) throw new ArgumentException($"The output holds {y.Length} values for {x.Length} inputs.", nameof(y));
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            ref float rx = ref MemoryMarshal.GetReference(x);
            ref float ry = ref MemoryMarshal.GetReference(y);
            for (; i <= x.Length - 16; i += 16)
                TFunction.Vector(Vector512.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] = TFunction.Scalar(x[i]);
    }

    /// <summary>
    /// Below this s the series' z = s^2 would be subnormal (s under ~1e-19, e under ~2e-19, a logit under -43), and an
    /// x86 core takes a microcode assist of ~100 cycles for every subnormal result: a Bernoulli row with many such logits
    /// (background pixels late in a long training) ran 20 times slower. The terms z scales are then below 1e-36 of the
    /// result, so z is taken from s clamped to this value.
    /// </summary>
    private const float SeriesMinS = 1e-18f;

    /// <summary>log(1 + e) for e in [0, 1], as 2 atanh(s) with s = e / (2 + e): accurate for tiny e too.</summary>
    public static float Log1pUnit(float e)
    {
        float s = e / (2f + e), sc = MathF.Max(s, SeriesMinS), z = sc * sc;
        float q = 1f + z * (1f / 3 + z * (1f / 5 + z * (1f / 7 + z * (1f / 9 + z * (1f / 11 + z * (1f / 13 + z * (1f / 15)))))));
        return 2f * s * q;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        var tooSmall = Vector512.LessThan(x, Vector512.Create(MinExponent));
        var p = ExpReduced(Vector512.Max(x, Vector512.Create(MinExponent)), out var n);
        var scaled = (p.AsInt32() + Vector512.ShiftLeft(Vector512.ConvertToInt32(n), 23)).AsSingle();
        return Vector512.ConditionalSelect(tooSmall, Vector512<float>.Zero, scaled);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Log1pUnit(Vector512<float> e, Vector512<float> s) // s = e / (2 + e)
    {
        var sc = Vector512.Max(s, Vector512.Create(SeriesMinS));
        var z = sc * sc;
        var q = Vector512.Create(1f / 15);
        q = Avx512F.FusedMultiplyAdd(q, z, Vector512.Create(1f / 13));
        q = Avx512F.FusedMultiplyAdd(q, z, Vector512.Create(1f / 11));
        q = Avx512F.FusedMultiplyAdd(q, z, Vector512.Create(1f / 9));
        q = Avx512F.FusedMultiplyAdd(q, z, Vector512.Create(1f / 7));
        q = Avx512F.FusedMultiplyAdd(q, z, Vector512.Create(1f / 5));
        q = Avx512F.FusedMultiplyAdd(q, z, Vector512.Create(1f / 3));
        q = Avx512F.FusedMultiplyAdd(q, z, Vector512<float>.One);
        return (s + s) * q;
    }

    // Cephes' logf: log(m) for m in [sqrt(1/2), sqrt(2)), as x + x^3 P(x) - x^2/2 with x = m - 1.
    private const float L0 = 7.0376836292e-2f, L1 = -1.1514610310e-1f, L2 = 1.1676998740e-1f, L3 = -1.2420140846e-1f, L4 = 1.4249322787e-1f,
        L5 = -1.6668057665e-1f, L6 = 2.0000714765e-1f, L7 = -2.4999993993e-1f, L8 = 3.3333331174e-1f;

    /// <summary>log(u) for a positive normal float u (the uniforms of <see cref="RandomSource.FillNormal"/>), within 2 ulps.</summary>
    public static float LogPositive(float u)
    {
        int bits = BitConverter.SingleToInt32Bits(u);
        int e = (bits >> 23) - 126;                                          // u = m 2^e, m in [1/2, 1)
        float m = BitConverter.Int32BitsToSingle((bits & 0x007FFFFF) | 0x3F000000);
        if (m < 0.70710678f) { e--; m += m; }                                // m in [sqrt(1/2), sqrt(2))
        float x = m - 1f, z = x * x;
        float p = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(
            MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(L0, x, L1), x, L2), x, L3), x, L4), x, L5), x, L6), x, L7), x, L8);
        float y = x * z * p + e * Ln2Lo - 0.5f * z;
        return x + y + e * Ln2Hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LogPositive(Vector512<float> u)
    {
        var bits = u.AsInt32();
        var e = Vector512.ShiftRightArithmetic(bits, 23) - Vector512.Create(126);
        var m = ((bits & Vector512.Create(0x007FFFFF)) | Vector512.Create(0x3F000000)).AsSingle();
        var small = Vector512.LessThan(m, Vector512.Create(0.70710678f));
        e += small.AsInt32(); // -1 where small
        m += Vector512.ConditionalSelect(small, m, Vector512<float>.Zero);
        var x = m - Vector512<float>.One;
        var z = x * x;
        var p = Vector512.Create(L0);
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L1));
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L2));
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L3));
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L4));
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L5));
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L6));
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L7));
        p = Avx512F.FusedMultiplyAdd(p, x, Vector512.Create(L8));
        var ef = Vector512.ConvertToSingle(e);
        var y = x * z * p + ef * Vector512.Create(Ln2Lo) - Vector512.Create(0.5f) * z;
        return x + y + ef * Vector512.Create(Ln2Hi);
    }

    // Cephes' sinf / cosf polynomials on [-pi/4, pi/4].
    private const float S0 = -1.9515295891e-4f, S1 = 8.3321608736e-3f, S2 = -1.6666654611e-1f;
    private const float C0 = 2.443315711809948e-5f, C1 = -1.388731625493765e-3f, C2 = 4.166664568298827e-2f;
    private const float TwoPi = 6.28318530717958647692f;

    /// <summary>(sin 2 pi t, cos 2 pi t) for t in [0, 1): the quarter turn by exact reduction, the rest by polynomial.</summary>
    public static (float Sin, float Cos) SinCosTurns(float t)
    {
        float q = MathF.Round(4f * t);
        float x = (t - 0.25f * q) * TwoPi; // t - q/4 is exact; |x| <= pi/4
        float z = x * x;
        float s = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(S0, z, S1), z, S2), z * x, x);
        float c = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(C0, z, C1), z, C2), z * z, MathF.FusedMultiplyAdd(-0.5f, z, 1f));
        return ((int)q & 3) switch
        {
            0 => (s, c),
            1 => (c, -s),
            2 => (-s, -c),
            _ => (-c, s),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Sin, Vector512<float> Cos) SinCosTurns(Vector512<float> t)
    {
        var q = Avx512F.RoundScale(Vector512.Create(4f) * t, 0);
        var x = (t - Vector512.Create(0.25f) * q) * Vector512.Create(TwoPi);
        var z = x * x;
        var s = Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAdd(Vector512.Create(S0), z, Vector512.Create(S1)), z, Vector512.Create(S2)), z * x, x);
        var c = Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAdd(Vector512.Create(C0), z, Vector512.Create(C1)), z, Vector512.Create(C2)), z * z,
            Avx512F.FusedMultiplyAdd(Vector512.Create(-0.5f), z, Vector512<float>.One));
        var k = Vector512.ConvertToInt32(q);
        var swap = Vector512.Equals(k & Vector512.Create(1), Vector512.Create(1)).AsSingle();
        var sin = Vector512.ConditionalSelect(swap, c, s);
        var cos = Vector512.ConditionalSelect(swap, s, c);
        var signBit = Vector512.Create(int.MinValue);
        var sinNegative = Vector512.ShiftLeft(k & Vector512.Create(2), 30);                   // q = 2, 3
        var cosNegative = Vector512.ShiftLeft((k + Vector512.Create(1)) & Vector512.Create(2), 30); // q = 1, 2
        return ((sin.AsInt32() ^ (sinNegative & signBit)).AsSingle(), (cos.AsInt32() ^ (cosNegative & signBit)).AsSingle());
    }

    /// <summary>
    /// Box-Muller on 24-bit uniforms, as PyTorch's CPU randn: from u1 in (0, 1] and u2 in [0, 1),
    /// values[2j] = mean + std r cos(2 pi u2) and values[2j+1] = mean + std r sin(2 pi u2) with r = sqrt(-2 log u1).
    /// <paramref name="bits"/> holds one 64-bit draw per pair: u1 from its high 24 bits, u2 from bits 8..31.
    /// So |value - mean| / std stays below sqrt(-2 log 2^-24) = 5.77.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BoxMuller(ReadOnlySpan<ulong> bits, Span<float> values, float mean, float std)
    {
        int pairs = (values.Length + 1) / 2;
        if (bits.Length < pairs) throw new ArgumentException($"{values.Length} values need {pairs} draws; got {bits.Length}.", nameof(bits));
        const float Unit = 1f / (1 << 24);
        int j = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            // 16 pairs at a time: the cosines fill 16 even slots, the sines 16 odd ones.
            Span<float> cos = stackalloc float[16], sin = stackalloc float[16];
            ref ulong rb = ref MemoryMarshal.GetReference(bits);
            for (; j + 16 <= values.Length / 2; j += 16)
            {
                var lo = Vector512.LoadUnsafe(ref rb, (nuint)j);
                var hi = Vector512.LoadUnsafe(ref rb, (nuint)(j + 8));
                // The high 24 bits of each draw for u1, bits 8..31 for u2, as 16 int32 lanes each.
                var top = Vector512.Narrow(Vector512.ShiftRightLogical(lo, 40), Vector512.ShiftRightLogical(hi, 40)).AsInt32();
                var low = Vector512.Narrow(Vector512.ShiftRightLogical(lo, 8) & Vector512.Create(0xFFFFFFUL), Vector512.ShiftRightLogical(hi, 8) & Vector512.Create(0xFFFFFFUL)).AsInt32();
                var u1 = Vector512<float>.One - Vector512.ConvertToSingle(top) * Vector512.Create(Unit); // (0, 1]
                var u2 = Vector512.ConvertToSingle(low) * Vector512.Create(Unit);                          // [0, 1)
                var r = Vector512.Sqrt(Vector512.Create(-2f) * LogPositive(u1)) * Vector512.Create(std);
                var (s, c) = SinCosTurns(u2);
                (Vector512.Create(mean) + r * c).CopyTo(cos);
                (Vector512.Create(mean) + r * s).CopyTo(sin);
                for (int k = 0; k < 16; k++)
                {
                    values[2 * (j + k)] = cos[k];
                    values[2 * (j + k) + 1] = sin[k];
                }
            }
        }
        for (; 2 * j < values.Length; j++)
        {
            ulong b = bits[j];
            float u1 = 1f - (b >> 40) * Unit, u2 = ((b >> 8) & 0xFFFFFF) * Unit;
            float r = MathF.Sqrt(-2f * LogPositive(u1)) * std;
            var (s, c) = SinCosTurns(u2);
            values[2 * j] = mean + r * c;
            if (2 * j + 1 < values.Length) values[2 * j + 1] = mean + r * s;
        }
    }

    /// <summary>
    /// y = softplus(x) = log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), element-wise: the Bernoulli kernel's core without its
    /// sigmoid and sum. Accurate for very negative x too (log(1 + e) for tiny e), where log of 1 + e in float would give 0.
    /// </summary>
    public static void Softplus(ReadOnlySpan<float> x, Span<float> y) => Map<SoftplusFunction>(x, y);

    private readonly struct SoftplusFunction : IFunction
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(float x) => MathF.Max(x, 0f) + Log1pUnit(ExpNonPositive(-MathF.Abs(x)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // inlined into Map, never run as tier-0 code
        public static Vector512<float> Vector(Vector512<float> v)
        {
            var e = ExpNonPositive(-Vector512.Abs(v));
            return Vector512.Max(v, Vector512<float>.Zero) + Log1pUnit(e, e / (Vector512.Create(2f) + e));
        }
    }

    /// <summary>
    /// A sigmoid below this (2^-100, a logit under -69.3) is stored as 0: the gradient dy (x - sigmoid) of a logit
    /// under about -82 would otherwise be subnormal, and every subnormal result or operand in the backward
    /// products costs a microcode assist. The change to a gradient is below 1e-30.
    /// </summary>
    public const float SigmoidFloor = 7.88860905e-31f;

    /// <summary>
    /// For one row: sigmoid[d] = sigmoid(l[d]) (0 below <see cref="SigmoidFloor"/>) and returns sum_d x[d] l[d] - softplus(l[d]),
    /// with softplus(l) = max(l, 0) + log(1 + exp(-|l|)).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BernoulliRow(ReadOnlySpan<float> x, ReadOnlySpan<float> l, Span<float> sigmoid)
    {
        int i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            ref float rx = ref MemoryMarshal.GetReference(x);
            ref float rl = ref MemoryMarshal.GetReference(l);
            ref float rs = ref MemoryMarshal.GetReference(sigmoid);
            var acc = Vector512<float>.Zero;
            for (; i <= l.Length - 16; i += 16)
            {
                var vl = Vector512.LoadUnsafe(ref rl, (nuint)i);
                var e = ExpNonPositive(-Vector512.Abs(vl));
                var nonNegative = Vector512.GreaterThanOrEqual(vl, Vector512<float>.Zero);
                // Both divisions, by 1 + e (sigmoid) and by 2 + e (log1p), from one reciprocal of their product:
                // rcp14 and a Newton step (relative error ~2^-28) instead of two slow vdivps.
                var onePlus = Vector512<float>.One + e;
                var twoPlus = Vector512.Create(2f) + e;
                var d = onePlus * twoPlus;
                var inv = Avx512F.Reciprocal14(d);
                inv *= Vector512.Create(2f) - d * inv;
                var sig = Vector512.ConditionalSelect(nonNegative, Vector512<float>.One, e) * twoPlus * inv;
                Vector512.ConditionalSelect(Vector512.LessThan(sig, Vector512.Create(SigmoidFloor)), Vector512<float>.Zero, sig).StoreUnsafe(ref rs, (nuint)i);
                acc += Vector512.LoadUnsafe(ref rx, (nuint)i) * vl - Vector512.Max(vl, Vector512<float>.Zero) - Log1pUnit(e, e * onePlus * inv);
            }
            sum = Vector512.Sum(acc);
        }
        for (; i < l.Length; i++)
        {
            float e = ExpNonPositive(-MathF.Abs(l[i]));
            float sig = (l[i] >= 0f ? 1f : e) / (1f + e);
            sigmoid[i] = sig < SigmoidFloor ? 0f : sig;
            sum += x[i] * l[i] - MathF.Max(l[i], 0f) - Log1pUnit(e);
        }
        return sum;
    }
}
