using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Tests.Engine;

/// <summary>RandomSource.FillNormal: vectorised Box-Muller in float, checked against float64 formulas and by its statistics.</summary>
public class NormalSamplingTests
{
    [Fact]
    public void Log_positive_is_within_two_ulps_of_double_log()
    {
        var xs = Enumerable.Range(1, 1 << 12).Select(i => i / 4096f) // the uniforms' range, (0, 1]
            .Concat(new[] { 1f / (1 << 24), 0.70710677f, 0.70710683f, 1e-30f, 3.5f, 1e30f, 1f - 1f / (1 << 24) });
        foreach (float x in xs)
        {
            float got = FastMath.LogPositive(x);
            double want = Math.Log(x);
            double ulp = Math.Max(Math.Abs(MathF.BitIncrement((float)want) - (float)want), float.Epsilon);
            Assert.True(Math.Abs(got - want) <= 2 * ulp, $"log({x:R}) = {got:R}, want {want:R}");
        }
    }

    [Fact]
    public void Sin_cos_turns_match_double_sin_and_cos_of_two_pi_t_in_every_quadrant()
    {
        for (int i = 0; i < 1 << 16; i++)
        {
            float t = i / 65536f;
            var (s, c) = FastMath.SinCosTurns(t);
            Assert.True(Math.Abs(s - Math.Sin(2 * Math.PI * t)) <= 2.5e-7, $"sin(2 pi {t}) = {s}");
            Assert.True(Math.Abs(c - Math.Cos(2 * Math.PI * t)) <= 2.5e-7, $"cos(2 pi {t}) = {c}");
        }
    }

    /// <summary>Box-Muller in float64 from the same draws: the reference for every value.</summary>
    private static double Reference(ulong bits, bool sine)
    {
        double u1 = 1 - (bits >> 40) / (double)(1 << 24), u2 = ((bits >> 8) & 0xFFFFFF) / (double)(1 << 24);
        double r = Math.Sqrt(-2 * Math.Log(u1));
        return sine ? r * Math.Sin(2 * Math.PI * u2) : r * Math.Cos(2 * Math.PI * u2);
    }

    [Fact]
    public void Box_muller_vector_body_and_scalar_tail_agree_with_float64()
    {
        var rng = new RandomSource(12);
        const int pairs = 16 * 40 + 5;
        var bits = new ulong[pairs];
        for (int j = 0; j < pairs; j++) bits[j] = rng.NextUInt64();
        // Edge draws: u1 = 1 (r = 0), u1 = 2^-24 (the largest r), u2 on quarter turns.
        bits[0] = 0; bits[1] = ulong.MaxValue; bits[2] = (0xABCDEFUL << 40) | (0x400000UL << 8); bits[3] = (0x123456UL << 40) | (0x800000UL << 8);
        bits[pairs - 1] = ulong.MaxValue; // in the scalar tail too
        var values = new float[2 * pairs - 1]; // odd: the last pair's sine is dropped
        FastMath.BoxMuller(bits, values, mean: 0f, std: 1f);
        for (int i = 0; i < values.Length; i++)
        {
            double want = Reference(bits[i / 2], sine: i % 2 == 1);
            Assert.True(Math.Abs(values[i] - want) <= 2e-6 * (1 + Math.Abs(want)), $"value {i}: {values[i]} vs {want}");
        }
        Assert.Equal(0f, values[0]);
        Assert.InRange(Math.Abs(values[2]), 5.76, 5.78); // r = sqrt(-2 log 2^-24) = 5.77, cos(2 pi u2) = +-1 for u2 = 0.999...

        var scaled = new float[values.Length];
        FastMath.BoxMuller(bits, scaled, mean: 3f, std: 0.5f);
        for (int i = 0; i < values.Length; i++) Assert.True(Math.Abs(scaled[i] - (3 + 0.5 * values[i])) <= 1e-6 * 4, $"scaled value {i}");
        Assert.Throws<ArgumentException>(() => FastMath.BoxMuller(bits.AsSpan(0, 2), new float[5], 0f, 1f));
    }

    [Fact]
    public void Fill_normal_has_the_moments_and_tails_of_a_standard_normal_and_is_reproducible()
    {
        const int n = 2_000_001; // odd, several chunks
        var z = new float[n];
        new RandomSource(77).FillNormal(z);
        double mean = 0, m2 = 0, m3 = 0, m4 = 0, outside196 = 0, max = 0;
        foreach (float v in z) { mean += v; }
        mean /= n;
        foreach (float v in z)
        {
            double d = v - mean;
            m2 += d * d; m3 += d * d * d; m4 += d * d * d * d;
            if (Math.Abs(v) > 1.959964) outside196++;
            max = Math.Max(max, Math.Abs(v));
            Assert.True(float.IsFinite(v));
        }
        m2 /= n; m3 /= n; m4 /= n;
        // Standard errors at n = 2e6: mean 0.0007, variance 0.001, skewness 0.0017, kurtosis 0.0035, tail fraction 0.00015.
        Assert.InRange(mean, -0.004, 0.004);
        Assert.InRange(m2, 0.995, 1.005);
        Assert.InRange(m3 / Math.Pow(m2, 1.5), -0.01, 0.01);
        Assert.InRange(m4 / (m2 * m2), 2.98, 3.02);
        Assert.InRange(outside196 / n, 0.0492, 0.0508);
        Assert.InRange(max, 4.5, 5.78); // 2e6 draws reach beyond 4.5; Box-Muller on 24-bit uniforms stops at 5.77

        var again = new float[n];
        new RandomSource(77).FillNormal(again);
        Assert.Equal(z, again);
        var other = new float[16];
        new RandomSource(78).FillNormal(other);
        Assert.NotEqual(z.Take(16).ToArray(), other);
    }
}
