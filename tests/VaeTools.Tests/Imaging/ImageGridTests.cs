using VaeTools.Engine;
using VaeTools.Imaging;

namespace VaeTools.Tests.Imaging;

public class ImageGridTests
{
    /// <summary>N images of h x w whose pixel values are all distinct and exactly representable as bytes (v/255).</summary>
    private static float[] DistinctImages(int count, int h, int w)
    {
        var data = new float[count * h * w];
        for (int i = 0; i < data.Length; i++)
            data[i] = (i % 251) / 255f; // 251 is prime, so neighbouring pixels differ
        return data;
    }

    [Fact]
    public void Pixel_of_tile_lands_where_expected()
    {
        const int n = 7, h = 4, w = 3, cols = 3, pad = 2, scale = 3;
        float[] images = DistinctImages(n, h, w);
        var grid = ImageGrid.Tile(images, h, w, new GridOptions { Columns = cols, Padding = pad, Scale = scale, Background = 1 });

        // 3 columns x 3 rows of (w*scale) x (h*scale) tiles with padding around and between.
        Assert.Equal(pad + cols * (w * scale + pad), grid.Width);
        Assert.Equal(pad + 3 * (h * scale + pad), grid.Height);
        Assert.Equal(PixelFormat.Gray8, grid.Format);
        for (int k = 0; k < n; k++)
        {
            int top = pad + (k / cols) * (h * scale + pad);
            int left = pad + (k % cols) * (w * scale + pad);
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                {
                    byte expected = (byte)((k * h * w + r * w + c) % 251);
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++)
                            Assert.Equal(expected, grid[top + r * scale + dy, left + c * scale + dx]);
                }
        }
        // Padding and the two empty cells (k = 7, 8) are background (white).
        Assert.Equal(255, grid[0, 0]);
        Assert.Equal(255, grid[grid.Height - 1, grid.Width - 1]);
        Assert.Equal(255, grid[pad + 2 * (h * scale + pad) + 1, pad + 2 * (w * scale + pad) + 1]);
    }

    [Fact]
    public void Fewer_images_than_columns_narrows_the_grid()
    {
        var grid = ImageGrid.Tile(DistinctImages(2, 28, 28), 28, 28, new GridOptions { Columns = 10, Padding = 1 });
        Assert.Equal(1 + 2 * 29, grid.Width);
        Assert.Equal(1 + 29, grid.Height);
    }

    [Fact]
    public void Values_are_clamped_and_rounded()
    {
        float[] image = [-0.5f, 0f, 0.5f, 1f, 1.5f, float.PositiveInfinity];
        var grid = ImageGrid.Tile(image, 1, 6, new GridOptions { Padding = 0 });
        Assert.Equal(new byte[] { 0, 0, 128, 255, 255, 255 }, grid.Pixels);
    }

    [Fact]
    public void NaN_is_an_error_naming_the_image()
    {
        float[] images = DistinctImages(6, 2, 2);
        images[5 * 4 + 3] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => ImageGrid.Tile(images, 2, 2));
        Assert.Contains("image 5", e.Message);
        Assert.Contains("row 1, column 1", e.Message);
    }

    [Fact]
    public void Bad_arguments_are_errors()
    {
        float[] images = DistinctImages(4, 2, 2);
        var zeroCols = Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Tile(images, 2, 2, new GridOptions { Columns = 0 }));
        Assert.Contains("Columns", zeroCols.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Tile(images, 2, 2, new GridOptions { Scale = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Tile(images, 2, 2, new GridOptions { Padding = -1 }));
        var notWhole = Assert.Throws<ArgumentException>(() => ImageGrid.Tile(images.AsSpan(0, 15), 2, 2));
        Assert.Contains("not a whole number", notWhole.Message);
        Assert.Throws<ArgumentException>(() => ImageGrid.Tile(ReadOnlySpan<float>.Empty, 2, 2));
        var mismatch = Assert.Throws<ArgumentException>(() => ImageGrid.TilePairs(images, images.AsSpan(0, 12), 2, 2));
        Assert.Contains("reconstructions", mismatch.Message);
        Assert.Throws<ShapeMismatchException>(() => ImageGrid.Tile(new Tensor(3, 5), 2, 2));
    }

    [Theory]
    [InlineData(PairLayout.Vertical)]
    [InlineData(PairLayout.Horizontal)]
    public void Pairs_put_the_reconstruction_next_to_its_original(PairLayout layout)
    {
        const int n = 5, h = 3, w = 2, cols = 2, pad = 3, gap = 1, scale = 2;
        var originals = new Tensor(n, h * w);
        var recons = new Tensor(n, h * w);
        for (int k = 0; k < n; k++)
            for (int i = 0; i < h * w; i++)
            {
                originals[k, i] = (k * 10 + i) / 255f;       // 0..49
                recons[k, i] = (100 + k * 10 + i) / 255f;    // 100..149
            }
        var options = new GridOptions { Columns = cols, Padding = pad, Scale = scale, PairGap = gap, PairLayout = layout, Background = 1 };
        var grid = ImageGrid.TilePairs(originals, recons, h, w, options);

        bool vertical = layout == PairLayout.Vertical;
        int cellH = vertical ? 2 * h * scale + gap : h * scale;
        int cellW = vertical ? w * scale : 2 * w * scale + gap;
        Assert.Equal(pad + cols * (cellW + pad), grid.Width);
        Assert.Equal(pad + 3 * (cellH + pad), grid.Height);
        for (int k = 0; k < n; k++)
        {
            int top = pad + (k / cols) * (cellH + pad), left = pad + (k % cols) * (cellW + pad);
            int top2 = vertical ? top + h * scale + gap : top, left2 = vertical ? left : left + w * scale + gap;
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                {
                    Assert.Equal(k * 10 + r * w + c, grid[top + r * scale + 1, left + c * scale + 1]);
                    Assert.Equal(100 + k * 10 + r * w + c, grid[top2 + r * scale, left2 + c * scale]);
                }
            // The gap between original and reconstruction is background.
            Assert.Equal(255, vertical ? grid[top + h * scale, left] : grid[top, left + w * scale]);
        }
    }
}
