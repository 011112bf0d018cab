using VaeTools.Engine;
using VaeTools.Engine.Ops;
using VaeTools.Internal;
using VaeTools.Tests.TestSupport;

namespace VaeTools.Tests.Engine;

[Collection(TestHooksCollection.Name)] // turns the AVX-512 tiles off through TestHooks
public class InputMajorLinearTests
{
    /// <summary>Runs y = InputMajorLinear(x) and one backward of sum(y * w); returns y, dWt, db.</summary>
    private static (float[] Y, float[] DWt, float[] Db, bool Sparse) Run(Tensor x, Tensor wt, Tensor b, Tensor w, int threads, bool skipZeros = true, bool tiles = true)
    {
        using var hooks = tiles ? null : Hooks.Install(new TestHooks { NoZeroSkippingTiles = true });
        using var pool = new WorkerPool(threads);
        var g = new Graph(pool);
        var xi = g.Input("x", x.Cols);
        xi.Set(x);
        var wp = new Parameter("wt", wt.Clone());
        var bp = new Parameter("b", b.Clone());
        var y = g.InputMajorLinear(xi, g.Param(wp), g.Param(bp), skipZeros);
        var wi = g.Input("w", w.Cols);
        wi.Set(w);
        var loss = g.Sum(g.Multiply(y, wi));
        g.Forward(loss);
        g.Backward(loss);
        return (y.Value.ToArray(), wp.Grad.ToArray(), bp.Grad.ToArray(), ((InputMajorLinearNode)y).UsedSparsePath);
    }

    private static Tensor Random(int r, int c, ulong seed, float zeroFraction = 0f)
    {
        var rng = new RandomSource(seed);
        var t = new Tensor(r, c);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = rng.NextFloat() < zeroFraction ? 0f : (float)rng.NextGaussian();
        return t;
    }

    [Theory]
    [InlineData(0.85f, true, true, true)]
    [InlineData(0.85f, true, false, true)]  // the sparse path without the AVX-512 tiles
    [InlineData(0.3f, true, true, false)]
    [InlineData(0.3f, true, false, false)]
    [InlineData(0.85f, false, true, false)]
    public void Matches_a_float64_product_of_the_transpose_on_every_path(float zeros, bool skipZeros, bool tiles, bool expectSparse)
    {
        // Awkward sizes: 37 outputs is neither a multiple of 16 nor of 64.
        var x = Random(19, 130, 1, zeros);
        var wt = Random(130, 37, 2);
        var b = Random(1, 37, 3);
        var w = Random(19, 37, 4);
        var (y, dwt, db, sparse) = Run(x, wt, b, w, threads: 2, skipZeros, tiles);
        Assert.Equal(expectSparse, sparse);
        for (int r = 0; r < 19; r++)
        for (int o = 0; o < 37; o++)
        {
            double s = b[0, o];
            for (int j = 0; j < 130; j++) s += (double)x[r, j] * wt[j, o];
            Close(s, y[r * 37 + o]);
        }
        for (int j = 0; j < 130; j++)
        for (int o = 0; o < 37; o++)
        {
            double s = 0;
            for (int r = 0; r < 19; r++) s += (double)x[r, j] * w[r, o];
            Close(s, dwt[j * 37 + o]);
        }
        for (int o = 0; o < 37; o++)
        {
            double s = 0;
            for (int r = 0; r < 19; r++) s += w[r, o];
            Close(s, db[o]);
        }
    }

    private static void Close(double expected, float actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5 * (1 + Math.Abs(expected)) * 10, $"{expected} vs {actual}");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sparse_path_is_bitwise_identical_for_any_thread_count(bool tiles)
    {
        var x = Random(64, 784, 5, 0.8f);
        var wt = Random(784, 400, 6);
        var b = Random(1, 400, 7);
        var w = Random(64, 400, 8);
        var one = Run(x, wt, b, w, 1, tiles: tiles);
        Assert.True(one.Sparse);
        foreach (int t in new[] { 2, 3 })
        {
            var other = Run(x, wt, b, w, t, tiles: tiles);
            Assert.Equal(one.Y, other.Y);
            Assert.Equal(one.DWt, other.DWt);
        }
    }

    [Fact]
    public void Wrong_width_names_both_shapes()
    {
        var g = new Graph();
        var x = g.Input("x", 10);
        x.SetRows(2);
        var y = g.InputMajorLinear(x, g.Param(new Parameter("wt", new Tensor(9, 4))), g.Param(new Parameter("b", new Tensor(1, 4))));
        var e = Assert.Throws<ShapeMismatchException>(() => g.Forward(y));
        Assert.Contains("[2 x 10]", e.Message);
        Assert.Contains("[9 x 4]", e.Message);
    }
}
