using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Tests.Engine;

/// <summary>The element-wise kernels against plain scalar arithmetic, at lengths that exercise every vector width and tail.</summary>
public class KernelsTests
{
    public static readonly TheoryData<int> Lengths = new() { 0, 1, 7, 8, 15, 16, 17, 31, 33, 100 };

    private static float[] Random(int n, ulong seed, float offset = 0f)
    {
        var rng = new RandomSource(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)rng.NextGaussian() + offset;
        return a;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Map_applies_the_operation_to_every_element(int n)
    {
        var a = Random(n, 1);
        var b = Random(n, 2, offset: 3f); // away from 0, for the division
        var dst = new float[n];
        void Check(Func<float, float, float> f)
        {
            for (int i = 0; i < n; i++) Assert.Equal(f(a[i], b[i]), dst[i]);
        }
        Kernels.Map<Kernels.AddOp>(a, b, dst); Check((x, y) => x + y);
        Kernels.Map<Kernels.SubtractOp>(a, b, dst); Check((x, y) => x - y);
        Kernels.Map<Kernels.MultiplyOp>(a, b, dst); Check((x, y) => x * y);
        Kernels.Map<Kernels.DivideOp>(a, b, dst); Check((x, y) => x / y);
        Kernels.Map<Kernels.MaxOp>(a, b, dst); Check(MathF.Max);
        Kernels.Map<Kernels.MultiplyOp>(a, 2.5f, dst); Check((x, _) => x * 2.5f);
        Kernels.Map<Kernels.MaxOp>(a, 0f, dst); Check((x, _) => MathF.Max(x, 0f));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Multiply_add_adds_the_products(int n)
    {
        var a = Random(n, 3);
        var b = Random(n, 4);
        var acc = Random(n, 5);
        var expected = acc.Select((c, i) => a[i] * b[i] + c).ToArray();
        Kernels.MultiplyAdd(a, b, acc);
        Assert.Equal(expected, acc);
        expected = acc.Select((c, i) => a[i] * -0.75f + c).ToArray();
        Kernels.MultiplyAdd(a, -0.75f, acc);
        Assert.Equal(expected, acc);
    }

    [Fact]
    public void Relu_passes_NaN_through_and_clamps_negatives()
    {
        var x = Enumerable.Range(0, 20).Select(i => i % 3 == 0 ? float.NaN : i - 10f).ToArray();
        var y = new float[x.Length];
        Kernels.Map<Kernels.MaxOp>(x, 0f, y);
        for (int i = 0; i < x.Length; i++)
            if (float.IsNaN(x[i])) Assert.True(float.IsNaN(y[i]), $"element {i}: NaN must stay NaN (so a diverging run is noticed)");
            else Assert.Equal(Math.Max(x[i], 0f), y[i]);
    }

    [Fact]
    public void Mismatched_lengths_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Kernels.Map<Kernels.AddOp>(new float[4], new float[3], new float[4]));
        Assert.Throws<ArgumentException>(() => Kernels.Map<Kernels.AddOp>(new float[4], 1f, new float[3]));
        Assert.Throws<ArgumentException>(() => Kernels.MultiplyAdd(new float[4], new float[4], new float[2]));
    }
}
