using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Tests.Engine;

public class FastMathTests
{
    [Fact]
    public void Exp_non_positive_is_within_a_few_ulps_of_double_exp_and_never_subnormal()
    {
        for (double x = -100; x <= 0; x += 0.00731)
        {
            float got = FastMath.ExpNonPositive((float)x);
            double want = Math.Exp((float)x);
            Assert.False(float.IsSubnormal(got), $"exp({x}) = {got} is subnormal");
            if (x < -87) Assert.Equal(0f, got);
            else Assert.True(Math.Abs(got - want) <= 4e-7 * want, $"exp({x}): {got} vs {want}");
        }
        Assert.Equal(1f, FastMath.ExpNonPositive(0f));
    }

    /// <summary>Distance in units in the last place between two finite floats of the same sign (0 and subnormals included).</summary>
    private static long UlpDistance(float a, float b) => Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b));

    [Fact]
    public void Exp_over_the_whole_range_is_within_two_ulps_of_the_correctly_rounded_value_vector_and_scalar_alike()
    {
        // -104 .. 89 covers results that round to 0, subnormal results, normal ones and overflow to +inf.
        var xs = new List<float>();
        for (double x = -110; x <= 95; x += 0.0123) xs.Add((float)x);
        xs.AddRange(new[] { 0f, -0f, 1e-30f, -1e-30f, 88.72f, 88.73f, -87.3f, -103.9f, -104f, float.MaxValue, float.MinValue });
        var input = xs.ToArray(); // not a multiple of 16 long: the scalar tail runs too
        var vector = new float[input.Length];
        FastMath.Exp(input, vector);
        for (int i = 0; i < input.Length; i++)
        {
            float want = (float)Math.Exp(input[i]); // correctly rounded (float64 exp is far more accurate than a float ulp)
            float scalar = FastMath.Exp(input[i]);
            foreach (var (how, got) in new[] { ("vector", vector[i]), ("scalar", scalar) })
            {
                if (float.IsPositiveInfinity(want)) Assert.True(float.IsPositiveInfinity(got) || UlpDistance(got, float.MaxValue) <= 2, $"{how} exp({input[i]}) = {got}, want +inf");
                else Assert.True(UlpDistance(got, want) <= 2, $"{how} exp({input[i]:R}) = {got:R}, want {want:R} ({UlpDistance(got, want)} ulps)");
            }
        }
    }

    [Fact]
    public void Exp_keeps_the_special_values()
    {
        var x = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f };
        var x16 = Enumerable.Repeat(x, 4).SelectMany(v => v).ToArray(); // 16: all in the vector path
        var y = new float[16];
        FastMath.Exp(x16, y);
        for (int i = 0; i < 16; i += 4)
        {
            Assert.True(float.IsNaN(y[i]));
            Assert.Equal(float.PositiveInfinity, y[i + 1]);
            Assert.Equal(0f, y[i + 2]);
            Assert.Equal(1f, y[i + 3]);
        }
        Assert.True(float.IsNaN(FastMath.Exp(float.NaN)));
        Assert.Equal(float.PositiveInfinity, FastMath.Exp(float.PositiveInfinity));
        Assert.Equal(0f, FastMath.Exp(float.NegativeInfinity));
        Assert.Throws<ArgumentException>(() => FastMath.Exp(new float[3], new float[2]));
    }

    [Fact]
    public void Softplus_matches_float64_from_very_negative_to_very_positive_vector_and_scalar_alike()
    {
        var x = new List<float>();
        for (double v = -120; v <= 120; v += 0.0377) x.Add((float)v);
        x.AddRange(new[] { 0f, -30f, -60f, -86.9f, 1e-8f, -1e-8f, 87f, 100f }); // not a multiple of 16 long: the scalar tail runs too
        var input = x.ToArray();
        var vector = new float[input.Length];
        FastMath.Softplus(input, vector);
        var scalar = new float[1];
        for (int i = 0; i < input.Length; i++)
        {
            double v = input[i], e = Math.Exp(-Math.Abs(v));
            double want = Math.Max(v, 0) + (e < 1e-4 ? e * (1 - e / 2 + e * e / 3) : Math.Log(1 + e)); // the series where 1 + e loses e's digits
            FastMath.Softplus(input.AsSpan(i, 1), scalar);
            foreach (var (how, got) in new[] { ("vector", vector[i]), ("scalar", scalar[0]) })
                // Relative 1e-6, or absolute 1e-37 where e^v is below the float range the exp keeps (v < -87).
                Assert.True(Math.Abs(got - want) <= 1e-6 * want + 1e-37, $"{how} softplus({v:R}) = {got:R}, want {want:R}");
        }
        Assert.Throws<ArgumentException>(() => FastMath.Softplus(new float[3], new float[2]));
    }

    [Fact]
    public void Log1p_unit_is_accurate_over_the_unit_interval_including_tiny_arguments()
    {
        foreach (double e in Enumerable.Range(0, 2001).Select(i => i / 2000.0).Concat(new[] { 1e-30, 1e-20, 1e-10, 1e-7, 3e-5 }))
        {
            float got = FastMath.Log1pUnit((float)e);
            double ef = (float)e;
            double want = ef < 1e-5 ? ef * (1 - ef / 2 + ef * ef / 3) : Math.Log(1 + ef); // the series where 1 + e would round
            Assert.True(Math.Abs(got - want) <= 3e-7 * want + 1e-45, $"log1p({e}): {got} vs {want}");
        }
    }

    [Fact]
    public void Bernoulli_row_at_very_negative_logits_matches_float64_and_stores_no_subnormal_sigmoid()
    {
        // Late in a long training, background pixels' logits fall below -43 (where the log1p series' s^2 would be
        // subnormal) and below -69 (where the stored sigmoid would make a subnormal gradient).
        var l = new List<float>();
        for (double v = -100; v <= -20; v += 0.173) l.Add((float)v);
        var logits = l.ToArray(); // not a multiple of 16 long: the scalar tail runs too
        var x = new float[logits.Length];
        for (int i = 0; i < x.Length; i += 3) x[i] = 1f;
        var sig = new float[logits.Length];
        float sum = FastMath.BernoulliRow(x, logits, sig);
        double want = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double li = logits[i], s = 1 / (1 + Math.Exp(-li));
            want += x[i] * li - Math.Exp(li); // softplus(l) = log(1 + e^l) = e^l to float64 precision here
            Assert.False(float.IsSubnormal(sig[i]), $"sigmoid({li}) = {sig[i]:R} is subnormal");
            if (s < FastMath.SigmoidFloor) Assert.Equal(0f, sig[i]);
            else Assert.True(Math.Abs(sig[i] - s) <= 1e-6 * s, $"sigmoid({li}) = {sig[i]:R} vs {s:R}");
        }
        Assert.True(Math.Abs(sum - want) <= 1e-6 * Math.Abs(want), $"{sum} vs {want}");

        // The row's loss part itself, where only softplus counts (x = 0): e^l, not 0, down to the exp's floor of -87.
        var one = new[] { -60f };
        Assert.True(Math.Abs(-FastMath.BernoulliRow(new float[1], one, new float[1]) - Math.Exp(-60)) <= 1e-6 * Math.Exp(-60));
    }

    [Fact]
    public void Bernoulli_row_vector_and_scalar_tail_agree_with_float64()
    {
        var rng = new RandomSource(3);
        const int n = 16 * 5 + 7; // both the vector body and the scalar tail
        var l = new float[n]; var x = new float[n]; var sig = new float[n];
        rng.FillNormal(l, 0f, 30f); // logits from -100 to 100: both tails of the sigmoid
        rng.FillUniform(x, 0f, 1f);
        float sum = FastMath.BernoulliRow(x, l, sig);
        double want = 0;
        for (int i = 0; i < n; i++)
        {
            double li = l[i], softplus = Math.Max(li, 0) + Math.Log(1 + Math.Exp(-Math.Abs(li)));
            want += x[i] * li - softplus;
            double s = 1 / (1 + Math.Exp(-li));
            Assert.True(Math.Abs(sig[i] - s) <= 1e-6 * Math.Max(s, 1e-30) + 1e-37, $"sigmoid({li}) = {sig[i]} vs {s}");
        }
        Assert.True(Math.Abs(sum - want) <= 1e-5 * Math.Abs(want), $"{sum} vs {want}");
    }
}
