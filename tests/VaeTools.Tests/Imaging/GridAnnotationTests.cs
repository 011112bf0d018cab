using VaeTools.Imaging;

namespace VaeTools.Tests.Imaging;

/// <summary>Titles over grid cells and a heading over a grid: the cells stay exactly the plain grid's.</summary>
public class GridAnnotationTests
{
    private static float[] Images(int count, int h, int w)
    {
        var v = new float[count * h * w];
        for (int i = 0; i < v.Length; i++) v[i] = (i * 37 % 101) / 100f;
        return v;
    }

    [Theory]
    [InlineData(7, 3, 1)]
    [InlineData(4, 4, 2)]
    [InlineData(1, 10, 3)]
    public void Cells_are_copied_unchanged_below_their_title_bands(int count, int columns, int scale)
    {
        const int h = 6, w = 5;
        var options = new GridOptions { Columns = columns, Scale = scale, Padding = 2 };
        var plain = ImageGrid.Tile(Images(count, h, w), h, w, options);
        var geometry = GridGeometry.ForTiles(count, h, w, options);
        var titles = Enumerable.Range(0, count).Select(i => $"{i}").ToArray();
        var annotated = GridAnnotation.Annotate(plain, geometry, titles, "Heading");
        int band = GridAnnotation.BandHeight(1);
        Assert.Equal(plain.Width, annotated.Width);
        Assert.Equal(plain.Height + band + geometry.Rows * band, annotated.Height);
        for (int k = 0; k < count; k++)
        {
            int row = k / geometry.Columns, column = k % geometry.Columns;
            int left = 2 + column * (geometry.CellWidth + 2);
            int plainTop = 2 + row * (geometry.CellHeight + 2);
            int annotatedTop = band + 2 + row * (band + geometry.CellHeight + 2) + band;
            for (int y = 0; y < geometry.CellHeight; y++)
                for (int x = 0; x < geometry.CellWidth; x++)
                    Assert.Equal(plain[plainTop + y, left + x], annotated[annotatedTop + y, left + x]);
        }
        // Ink (white, 255) only in the bands: none over a cell, some in the heading band and over cell 0.
        var inkRows = Enumerable.Range(0, annotated.Height).Where(y => Enumerable.Range(0, annotated.Width).Any(x => annotated[y, x] == 255)).ToList();
        Assert.Contains(inkRows, y => y < band);
        Assert.Contains(inkRows, y => y >= band + 2 && y < 2 * band + 2);
    }

    [Fact]
    public void No_text_gives_the_grid_itself_and_a_wrong_geometry_is_an_error()
    {
        var plain = ImageGrid.Tile(Images(3, 4, 4), 4, 4);
        Assert.Same(plain, GridAnnotation.Annotate(plain, GridGeometry.ForTiles(3, 4, 4), new string?[] { null, "", null }, null));
        var e = Assert.Throws<ArgumentException>(() => GridAnnotation.Annotate(plain, GridGeometry.ForTiles(4, 4, 4, new GridOptions { Columns = 2 }), null, "x"));
        Assert.Contains("geometry", e.Message);
    }

    [Fact]
    public void Pair_titles_sit_over_each_pair_and_colour_pictures_keep_their_channels()
    {
        var originals = Images(3, 4, 4);
        var reconstructions = originals.Select(v => 1 - v).ToArray();
        var options = new GridOptions { Columns = 3, Scale = 2 };
        var plain = ImageGrid.TilePairs(originals, reconstructions, 4, 4, options);
        var geometry = GridGeometry.ForPairs(3, 4, 4, options);
        Assert.Equal((8, 17), (geometry.CellWidth, geometry.CellHeight)); // two 8-pixel tiles and a 1-pixel gap
        var annotated = GridAnnotation.Annotate(plain, geometry, new[] { "7", "2", "1" }, null, ink: 0f);
        Assert.Equal(plain.Height + GridAnnotation.BandHeight(1), annotated.Height);
        Assert.Contains(annotated.Pixels.Take(annotated.Width * GridAnnotation.BandHeight(1) + 2 * annotated.Width), b => b == 0); // black ink

        var rgb = new PixelImage(plain.Width, plain.Height, PixelFormat.Rgb24);
        for (int i = 0; i < plain.Pixels.Length; i++) { rgb.Pixels[3 * i] = plain.Pixels[i]; rgb.Pixels[3 * i + 1] = 10; rgb.Pixels[3 * i + 2] = 200; }
        var colour = GridAnnotation.Annotate(rgb, geometry, null, "RGB");
        Assert.Equal(PixelFormat.Rgb24, colour.Format);
        Assert.Equal(rgb[rgb.Height - 1, 3, 2], colour[colour.Height - 1, 3, 2]);
        Assert.Equal(200, colour[0, 0, 2]); // the band takes the background colour
    }
}
