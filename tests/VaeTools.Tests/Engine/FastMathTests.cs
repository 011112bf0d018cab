using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Tests.Engine;

public class FastMathTests
{
    [Fact]
    public void ExpNonPositive_IsWithinAFewUlpsOfDoubleExp_AndNeverSubnormal()
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

    [Fact]
    public void Log1pUnit_IsAccurateOverTheUnitInterval_IncludingTinyArguments()
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
    public void BernoulliRow_VectorAndScalarTailAgreeWithFloat64()
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
