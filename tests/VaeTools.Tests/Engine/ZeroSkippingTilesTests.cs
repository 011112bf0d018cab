using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Tests.Engine;

public class ZeroSkippingTilesTests
{
    private static float[] Random(int n, ulong seed, float zeroFraction)
    {
        var rng = new RandomSource(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextFloat() < zeroFraction ? 0f : (float)rng.NextGaussian();
        return a;
    }

    private static void Close(double expected, float actual, string where) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-4 * (1 + Math.Abs(expected)), $"{where}: expected {expected}, got {actual}");

    // Rows not a multiple of the 4-row tile, columns not of 4; outputs that leave 64-, 16- and 1-wide column tails.
    [Avx512Theory]
    [InlineData(19, 130, 37, 0.85f)]
    [InlineData(1, 7, 100, 0.5f)]
    [InlineData(64, 784, 400, 0.8f)]
    [InlineData(6, 33, 81, 1.0f)]   // all zero: every tile is empty
    [InlineData(5, 20, 16, 0.0f)]   // dense
    public void Row_tiles_compute_the_product_XW_against_float64(int rows, int ins, int outs, float zeros)
    {
        var x = Random(rows * ins, 1, zeros);
        var w = Random(ins * outs, 2, 0f);
        var start = Random(rows * outs, 3, 0f);
        var tiles = new ZeroSkippingTiles();
        tiles.BuildFromRows(x, rows, ins);
        Assert.Equal((rows + 3) / 4, tiles.Tiles);
        foreach (bool overwrite in new[] { true, false })
        {
            var y = (float[])start.Clone();
            // Two column ranges, as two threads would split them.
            int split = outs / 2 & ~15;
            tiles.Multiply(w, outs, y, outs, 0, split, overwrite);
            tiles.Multiply(w, outs, y, outs, split, outs, overwrite);
            for (int r = 0; r < rows; r++)
            for (int o = 0; o < outs; o++)
            {
                double s = overwrite ? 0 : start[r * outs + o];
                for (int j = 0; j < ins; j++) s += (double)x[r * ins + j] * w[j * outs + o];
                Close(s, y[r * outs + o], $"y[{r},{o}] overwrite={overwrite}");
            }
        }
    }

    [Avx512Theory]
    [InlineData(19, 130, 37, 0.85f)]
    [InlineData(64, 784, 400, 0.8f)]
    [InlineData(3, 9, 70, 0.6f)]
    [InlineData(7, 12, 20, 1.0f)]
    public void Column_tiles_compute_the_weight_gradient_Xt_dY_against_float64(int rows, int ins, int outs, float zeros)
    {
        var x = Random(rows * ins, 4, zeros);
        var dy = Random(rows * outs, 5, 0f);
        var start = Random(ins * outs, 6, 0f);
        var tiles = new ZeroSkippingTiles();
        tiles.BuildFromColumns(x, rows, ins);
        Assert.Equal((ins + 3) / 4, tiles.Tiles);
        int nonZeroPixelsOfRows = 0; // entries = (image, pixel-quad) pairs with a non-zero
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < ins; q += 4)
            {
                bool any = false;
                for (int j = q; j < Math.Min(ins, q + 4); j++) any |= x[r * ins + j] != 0f;
                nonZeroPixelsOfRows += any ? 1 : 0;
            }
        Assert.Equal(nonZeroPixelsOfRows, tiles.Entries);
        foreach (bool overwrite in new[] { true, false })
        {
            var dw = (float[])start.Clone();
            tiles.Multiply(dy, outs, dw, outs, 0, outs, overwrite);
            for (int j = 0; j < ins; j++)
            for (int o = 0; o < outs; o++)
            {
                double s = overwrite ? 0 : start[j * outs + o];
                for (int r = 0; r < rows; r++) s += (double)x[r * ins + j] * dy[r * outs + o];
                Close(s, dw[j * outs + o], $"dW[{j},{o}] overwrite={overwrite}");
            }
        }
    }

    [Avx512Fact]
    public void Row_tiles_keep_exactly_the_pixels_where_one_of_four_images_is_non_zero()
    {
        int rows = 6, ins = 40;
        var x = new float[rows * ins];
        x[0 * ins + 3] = 1f;             // tile 0: pixel 3 (image 0) and pixel 3 again (image 2) count once
        x[2 * ins + 3] = 2f;
        x[3 * ins + 39] = float.NaN;     // NaN is not zero: kept, so it reaches the output
        x[5 * ins + 17] = -1f;           // tile 1 (images 4, 5): pixel 17
        var tiles = new ZeroSkippingTiles();
        tiles.BuildFromRows(x, rows, ins);
        Assert.Equal(3, tiles.Entries);
    }
}

/// <summary>A fact that runs only where the tile kernels do (AVX-512).</summary>
internal sealed class Avx512FactAttribute : FactAttribute
{
    public Avx512FactAttribute() { if (!ZeroSkippingTiles.IsSupported) Skip = "This CPU has no AVX-512; the tile kernels are not used here."; }
}

/// <summary>A theory that runs only where the tile kernels do (AVX-512).</summary>
internal sealed class Avx512TheoryAttribute : TheoryAttribute
{
    public Avx512TheoryAttribute() { if (!ZeroSkippingTiles.IsSupported) Skip = "This CPU has no AVX-512; the tile kernels are not used here."; }
}
