using VaeTools.Imaging;

namespace VaeTools.Tests.Imaging;

public class RasterTests
{
    private static (byte R, byte G, byte B) At(PixelImage image, int x, int y) => (image[y, x, 0], image[y, x, 1], image[y, x, 2]);

    [Fact]
    public void Fill_rect_covers_whole_pixels_exactly_and_edges_partially()
    {
        var canvas = new RasterCanvas(10, 10, Rgb.White);
        canvas.FillRect(2, 3, 5, 6, Rgb.Black);        // pixels x 2..4, y 3..5
        canvas.FillRect(7, 0, 7.5, 1, Rgb.Black);      // half of pixel (7, 0)
        var image = canvas.ToImage();
        Assert.Equal((0, 0, 0), At(image, 2, 3));
        Assert.Equal((0, 0, 0), At(image, 4, 5));
        Assert.Equal((255, 255, 255), At(image, 5, 5));
        Assert.Equal((255, 255, 255), At(image, 1, 3));
        Assert.Equal((255, 255, 255), At(image, 2, 6));
        Assert.InRange(image[0, 7, 0], 126, 129);
    }

    [Fact]
    public void Circle_is_filled_inside_and_empty_outside()
    {
        var canvas = new RasterCanvas(20, 20, Rgb.White);
        var red = new Rgb(200, 10, 20);
        canvas.FillCircle(10, 10, 4, red);
        var image = canvas.ToImage();
        Assert.Equal((200, 10, 20), At(image, 10, 10));
        Assert.Equal((200, 10, 20), At(image, 12, 9));
        Assert.Equal((255, 255, 255), At(image, 15, 10));
        Assert.Equal((255, 255, 255), At(image, 3, 3));
        // Symmetry: the disc centred on a pixel corner looks the same mirrored.
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++)
                Assert.Equal(At(image, x, y), At(image, 19 - x, y));
    }

    [Fact]
    public void Thick_line_covers_its_path_and_not_far_away()
    {
        var canvas = new RasterCanvas(30, 30, Rgb.White);
        canvas.StrokeLine(2, 2, 27, 27, 2, Rgb.Black);
        var image = canvas.ToImage();
        for (int i = 3; i < 27; i++)
            Assert.True(image[i, i, 0] < 60, $"pixel ({i}, {i}) on the diagonal is {image[i, i, 0]}");
        Assert.Equal(255, image[5, 20, 0]);
        Assert.Equal(255, image[20, 5, 0]);
    }

    [Fact]
    public void Text_draws_the_glyph_pixels_at_the_scale()
    {
        var canvas = new RasterCanvas(40, 20, Rgb.White);
        canvas.DrawText("1", 3, 2, 2, Rgb.Black);
        var image = canvas.ToImage();
        // Glyph '1' has column 2 fully set on rows 0-6 (0x7F), so font pixel (row r, col 2) covers x 7..8, y 2+2r..3+2r.
        for (int r = 0; r < 7; r++)
        {
            Assert.True(BitmapFont.IsSet('1', r, 2));
            Assert.Equal(0, image[2 + 2 * r, 7, 0]);
            Assert.Equal(0, image[3 + 2 * r, 8, 0]);
        }
        Assert.False(BitmapFont.IsSet('1', 7, 2));
        Assert.Equal(255, image[2 + 14, 7, 0]); // descender row empty
        Assert.Equal(255, image[0, 0, 0]);
    }

    [Fact]
    public void Font_has_distinct_glyphs_and_falls_back_to_question_mark()
    {
        const string printable = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        var seen = new HashSet<string>();
        foreach (char c in printable)
            Assert.True(seen.Add(Convert.ToHexString(BitmapFont.Glyph(c))), $"glyph of '{c}' duplicates another");
        Assert.True(BitmapFont.Glyph('€').SequenceEqual(BitmapFont.Glyph('?')));
        Assert.False(BitmapFont.Glyph('±').SequenceEqual(BitmapFont.Glyph('?')));
        Assert.Equal(17, BitmapFont.Measure("abc"));
    }
}
