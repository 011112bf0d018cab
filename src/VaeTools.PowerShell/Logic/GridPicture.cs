using VaeTools.Engine;
using VaeTools.Imaging;

namespace VaeTools.PowerShell.Logic;

/// <summary>How New-VaeSample -OutFile and Export-VaePlot draw image grids: one place, so the two agree pixel for pixel.</summary>
public sealed record GridStyle
{
    /// <summary>Tiles (or pairs) per row.</summary>
    public int Columns { get; init; } = 10;
    /// <summary>A heading over the whole grid (-Title), or null.</summary>
    public string? Heading { get; init; }
    /// <summary>A title over each cell (e.g. "Label: 7"), or null.</summary>
    public IReadOnlyList<string?>? Titles { get; init; }
    /// <summary>Black digits on white (-Invert) instead of white on black.</summary>
    public bool Invert { get; init; }
    /// <summary>Colour planes of each image: 1 (grey) or 3 (channel-major R, G, B).</summary>
    public int Channels { get; init; } = 1;
}

/// <summary>Tiles images (or original/reconstruction pairs) and adds the style's text.</summary>
public static class GridPicture
{
    /// <summary>Pixels per image pixel when cells carry titles: "Label: 7" (47 pixels) then fits over a 28-pixel digit drawn at 56.</summary>
    public const int TitledScale = 2;

    public static PixelImage Tiles(Tensor images, int height, int width, GridStyle style)
    {
        var options = Options(style);
        var grid = ImageGrid.Tile(Shade(images, style), height, width, options);
        return Annotate(grid, GridGeometry.ForTiles(images.Rows, height, width, options), style);
    }

    public static PixelImage Pairs(Tensor originals, Tensor reconstructions, int height, int width, GridStyle style)
    {
        var options = Options(style);
        var grid = ImageGrid.TilePairs(Shade(originals, style), Shade(reconstructions, style), height, width, options);
        return Annotate(grid, GridGeometry.ForPairs(originals.Rows, height, width, options), style);
    }

    /// <summary>"Label: N" per row of a data set, or null when it has no labels.</summary>
    public static string?[]? LabelTitles(Data.IDataset data, int count)
    {
        var labels = Enumerable.Range(0, count).Select(data.GetLabel).ToArray();
        return labels.All(l => l < 0) ? null : labels.Select(l => l < 0 ? null : $"Label: {l}").ToArray();
    }

    private static GridOptions Options(GridStyle style) =>
        new() { Columns = style.Columns, Scale = style.Titles is null ? 1 : TitledScale, Channels = style.Channels };

    private static Tensor Shade(Tensor images, GridStyle style)
    {
        if (!style.Invert) return images;
        var inverted = new Tensor(images.Rows, images.Cols);
        var from = images.Span;
        var to = inverted.Span;
        for (int i = 0; i < from.Length; i++) to[i] = 1f - from[i];
        return inverted;
    }

    private static PixelImage Annotate(PixelImage grid, GridGeometry geometry, GridStyle style) =>
        GridAnnotation.Annotate(grid, geometry, style.Titles, style.Heading, ink: style.Invert ? 0f : 1f);
}
