using VaeTools.Engine;
using VaeTools.Imaging;

namespace VaeTools.Tests.Imaging;

/// <summary>ImageGrid with GridOptions.Channels = 3: channel-major colour images into an RGB picture.</summary>
public class ColourGridTests
{
    // Value of plane ch, row r, column c of image k: distinct and exact as bytes.
    private static byte Value(int k, int ch, int r, int c) => (byte)((k * 31 + ch * 80 + r * 7 + c * 3) % 256);

    private static float[] Images(int count, int h, int w)
    {
        var data = new float[count * 3 * h * w];
        for (int k = 0; k < count; k++)
            for (int ch = 0; ch < 3; ch++)
                for (int r = 0; r < h; r++)
                    for (int c = 0; c < w; c++)
                        data[((k * 3 + ch) * h + r) * w + c] = Value(k, ch, r, c) / 255f;
        return data;
    }

    [Fact]
    public void Each_plane_becomes_one_colour_channel_of_each_pixel()
    {
        const int n = 5, h = 4, w = 3, cols = 2, pad = 1, scale = 2;
        var grid = ImageGrid.Tile(Images(n, h, w), h, w, new GridOptions { Columns = cols, Padding = pad, Scale = scale, Channels = 3, Background = 0.5f });
        Assert.Equal(PixelFormat.Rgb24, grid.Format);
        Assert.Equal(pad + cols * (w * scale + pad), grid.Width);
        Assert.Equal(pad + 3 * (h * scale + pad), grid.Height);
        for (int k = 0; k < n; k++)
        {
            int top = pad + (k / cols) * (h * scale + pad), left = pad + (k % cols) * (w * scale + pad);
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++)
                            for (int ch = 0; ch < 3; ch++)
                                Assert.Equal(Value(k, ch, r, c), grid[top + r * scale + dy, left + c * scale + dx, ch]);
        }
        // Padding and the empty sixth cell are grey in all three channels.
        for (int ch = 0; ch < 3; ch++)
        {
            Assert.Equal(128, grid[0, 0, ch]);
            Assert.Equal(128, grid[grid.Height - 2, grid.Width - 2, ch]);
        }
    }

    [Fact]
    public void A_pure_red_green_and_blue_image_come_out_as_such_in_the_png()
    {
        // Three 2 x 2 images: all red, all green, all blue (one plane at 1, the others 0).
        var data = new float[3 * 3 * 4];
        for (int k = 0; k < 3; k++) data.AsSpan((k * 3 + k) * 4, 4).Fill(1f);
        var grid = ImageGrid.Tile(new Tensor(3, 12, data), 2, 2, new GridOptions { Channels = 3, Padding = 0 });
        var decoded = PngDecoder.Decode(PngEncoder.Encode(grid));
        Assert.Equal(PixelFormat.Rgb24, decoded.Format);
        Assert.Equal((6, 2), (decoded.Width, decoded.Height));
        for (int k = 0; k < 3; k++)
            for (int ch = 0; ch < 3; ch++)
                Assert.Equal(ch == k ? 255 : 0, decoded[1, 2 * k + 1, ch]);
    }

    [Fact]
    public void Colour_pairs_put_the_reconstruction_below_the_original()
    {
        const int h = 2, w = 2;
        var originals = Images(2, h, w);
        var recon = originals.Select(v => 1 - v).ToArray();
        var grid = ImageGrid.TilePairs(originals, recon, h, w, new GridOptions { Channels = 3, Padding = 0, PairGap = 0 });
        Assert.Equal((4, 4), (grid.Width, grid.Height));
        for (int ch = 0; ch < 3; ch++)
        {
            Assert.Equal(Value(1, ch, 1, 0), grid[1, 2, ch]);
            Assert.Equal((byte)(255 - Value(1, ch, 1, 0)), grid[3, 2, ch]);
        }
    }

    [Fact]
    public void Wrong_sizes_and_channel_counts_are_explained()
    {
        var e = Assert.Throws<ArgumentException>(() => ImageGrid.Tile(new float[3 * 4 + 1], 2, 2, new GridOptions { Channels = 3 }));
        Assert.Contains("3 x 2 x 2 images (12 values each)", e.Message);
        var t = Assert.Throws<ShapeMismatchException>(() => ImageGrid.Tile(new Tensor(2, 4), 2, 2, new GridOptions { Channels = 3 }));
        Assert.Contains("3 x 2 x 2 images need 12 columns", t.Message);
        var c = Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Tile(new float[8], 2, 2, new GridOptions { Channels = 2 }));
        Assert.Contains("Channels must be 1 (grey) or 3", c.Message);
        var nan = new float[12];
        nan[4 + 3] = float.NaN;
        var n = Assert.Throws<ArgumentException>(() => ImageGrid.Tile(nan, 2, 2, new GridOptions { Channels = 3 }));
        Assert.Contains("pixel (row 1, column 1) of channel 1", n.Message);
    }
}
