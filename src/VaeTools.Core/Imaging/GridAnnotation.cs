namespace VaeTools.Imaging;

/// <summary>Where the cells of an <see cref="ImageGrid"/> picture lie: cell size, columns, rows and padding (output pixels).</summary>
public sealed record GridGeometry(int CellWidth, int CellHeight, int Columns, int Rows, int Padding)
{
    /// <summary>The geometry of <see cref="ImageGrid.Tile(ReadOnlySpan{float}, int, int, GridOptions?)"/> for <paramref name="count"/> images.</summary>
    public static GridGeometry ForTiles(int count, int imageHeight, int imageWidth, GridOptions? options = null)
    {
        options ??= new GridOptions();
        int columns = Math.Max(1, Math.Min(options.Columns, count));
        return new GridGeometry(imageWidth * options.Scale, imageHeight * options.Scale, columns, (count + columns - 1) / columns, options.Padding);
    }

    /// <summary>The geometry of <see cref="ImageGrid.TilePairs(ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, GridOptions?)"/> for <paramref name="count"/> pairs.</summary>
    public static GridGeometry ForPairs(int count, int imageHeight, int imageWidth, GridOptions? options = null)
    {
        options ??= new GridOptions();
        int tileH = imageHeight * options.Scale, tileW = imageWidth * options.Scale;
        bool vertical = options.PairLayout == PairLayout.Vertical;
        int columns = Math.Max(1, Math.Min(options.Columns, count));
        return new GridGeometry(vertical ? tileW : 2 * tileW + options.PairGap, vertical ? 2 * tileH + options.PairGap : tileH,
            columns, (count + columns - 1) / columns, options.Padding);
    }
}

/// <summary>
/// Text on image grids, as the course seeds show them: a title over each cell (e.g. "Label: 7" over a reconstruction
/// pair) and a heading over the whole grid, in the 5 x 8 bitmap font. A band of text height is inserted above each
/// row of cells (when there are cell titles) and above the grid (when there is a heading); the cells themselves are
/// copied unchanged, so the picture below each title is exactly the plain grid's. Works on gray and colour pictures.
/// </summary>
public static class GridAnnotation
{
    private const int TextGap = 2;

    /// <summary>Height in output pixels of one band of text at <paramref name="textScale"/>.</summary>
    public static int BandHeight(int textScale) => BitmapFont.GlyphHeight * textScale + 2 * TextGap;

    /// <summary>
    /// <paramref name="grid"/> with <paramref name="titles"/> (one per cell in reading order, null or empty for none; the
    /// list may be shorter than the cells) above the cells and <paramref name="heading"/> above everything, centred. Text
    /// wider than a cell is cut at the cell's padding. The bands take the grid's background (its top-left pixel).
    /// </summary>
    /// <param name="grid">A picture from <see cref="ImageGrid"/>.</param>
    /// <param name="geometry">Its layout (<see cref="GridGeometry.ForTiles"/> or <see cref="GridGeometry.ForPairs"/>).</param>
    /// <param name="titles">Per-cell titles, or null.</param>
    /// <param name="heading">A title over the whole grid, or null.</param>
    /// <param name="ink">Gray level of the text in [0, 1]: 1 (white) on dark grids, 0 on light ones.</param>
    /// <param name="textScale">Pixels per font pixel (1 gives 8-pixel-high text).</param>
    public static PixelImage Annotate(PixelImage grid, GridGeometry geometry, IReadOnlyList<string?>? titles, string? heading, float ink = 1f, int textScale = 1)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(geometry);
        if (textScale < 1) throw new ArgumentOutOfRangeException(nameof(textScale), textScale, "The text scale must be at least 1.");
        if (!(ink >= 0 && ink <= 1)) throw new ArgumentOutOfRangeException(nameof(ink), ink, "The ink must be a gray level in [0, 1].");
        long expectedWidth = geometry.Padding + (long)geometry.Columns * (geometry.CellWidth + geometry.Padding);
        long expectedHeight = geometry.Padding + (long)geometry.Rows * (geometry.CellHeight + geometry.Padding);
        if (grid.Width != expectedWidth || grid.Height != expectedHeight)
            throw new ArgumentException($"The grid is {grid.Width} x {grid.Height} pixels but its geometry ({geometry}) gives {expectedWidth} x {expectedHeight}.", nameof(geometry));
        bool cellTitles = titles is not null && titles.Any(t => !string.IsNullOrEmpty(t));
        bool hasHeading = !string.IsNullOrEmpty(heading);
        if (!cellTitles && !hasHeading) return grid;

        int band = BandHeight(textScale), channels = grid.Channels;
        int headingBand = hasHeading ? band : 0, rowBand = cellTitles ? band : 0;
        int height = grid.Height + headingBand + geometry.Rows * rowBand;
        var result = new PixelImage(grid.Width, height, grid.Format);
        // Background: the grid's own (its top-left padding pixel), everywhere first.
        for (int i = 0; i < result.Pixels.Length; i++) result.Pixels[i] = grid.Pixels[i % channels];

        // Source rows: the top padding, then per grid row its cells and the padding below them.
        int destination = headingBand;
        CopyRows(grid, result, 0, destination, geometry.Padding);
        destination += geometry.Padding;
        for (int r = 0; r < geometry.Rows; r++)
        {
            destination += rowBand;
            int source = geometry.Padding + r * (geometry.CellHeight + geometry.Padding);
            CopyRows(grid, result, source, destination, geometry.CellHeight + geometry.Padding);
            destination += geometry.CellHeight + geometry.Padding;
        }

        byte level = ImageGrid.ToByte(ink);
        if (hasHeading)
            DrawText(result, heading!, 0, grid.Width, TextGap, textScale, level);
        if (cellTitles)
            for (int k = 0; k < titles!.Count && k < geometry.Columns * geometry.Rows; k++)
            {
                if (string.IsNullOrEmpty(titles[k])) continue;
                int row = k / geometry.Columns, column = k % geometry.Columns;
                int left = geometry.Padding + column * (geometry.CellWidth + geometry.Padding);
                int top = headingBand + geometry.Padding + row * (rowBand + geometry.CellHeight + geometry.Padding) + TextGap;
                // Centred over the cell, cut at the padding either side.
                DrawText(result, titles[k]!, Math.Max(0, left - geometry.Padding / 2), Math.Min(result.Width, left + geometry.CellWidth + (geometry.Padding + 1) / 2), top, textScale, level);
            }
        return result;
    }

    private static void CopyRows(PixelImage from, PixelImage to, int sourceRow, int destinationRow, int rows)
    {
        int stride = from.Width * from.Channels;
        Array.Copy(from.Pixels, sourceRow * stride, to.Pixels, destinationRow * stride, rows * stride);
    }

    /// <summary>Draws <paramref name="text"/> centred between columns [left, right), clipped to them, with its top at <paramref name="top"/>.</summary>
    private static void DrawText(PixelImage image, string text, int left, int right, int top, int scale, byte level)
    {
        int width = BitmapFont.Measure(text) * scale;
        int x0 = left + (right - left - width) / 2;
        int channels = image.Channels;
        for (int i = 0; i < text.Length; i++)
            for (int column = 0; column < BitmapFont.GlyphWidth; column++)
                for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                {
                    if (!BitmapFont.IsSet(text[i], row, column)) continue;
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++)
                        {
                            int x = x0 + (i * BitmapFont.Advance + column) * scale + dx, y = top + row * scale + dy;
                            if (x < left || x >= right || x < 0 || y < 0 || y >= image.Height) continue;
                            int at = (y * image.Width + x) * channels;
                            for (int c = 0; c < channels; c++) image.Pixels[at + c] = c == 3 ? (byte)255 : level;
                        }
                }
    }
}
