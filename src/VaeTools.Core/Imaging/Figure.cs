using VaeTools.IO;
using System.Text;

namespace VaeTools.Imaging;

/// <summary>Text and size of a plot. Every property has a sensible default.</summary>
public sealed record PlotOptions
{
    /// <summary>Title above the plot; none when null.</summary>
    public string? Title { get; init; }

    /// <summary>Label under the x axis; null uses the plot's default (e.g. "epoch"), "" shows none.</summary>
    public string? XLabel { get; init; }

    /// <summary>Label left of the y axis (reads bottom to top); null uses the plot's default, "" shows none.</summary>
    public string? YLabel { get; init; }

    /// <summary>Picture width in pixels (SVG user units). Default 800.</summary>
    public int Width { get; init; } = 800;

    /// <summary>Picture height in pixels (SVG user units). Default 600.</summary>
    public int Height { get; init; } = 600;

    /// <summary>Scatter point radius in pixels. Default 2.5.</summary>
    public double PointRadius { get; init; } = 2.5;

    /// <summary>Scatter point opacity in (0, 1]; below 1 lets dense clusters show their density. Default 0.7.</summary>
    public double PointOpacity { get; init; } = 0.7;

    internal void Validate()
    {
        if (Width < 200 || Width > 10000)
            throw new ArgumentOutOfRangeException(nameof(Width), Width, "PlotOptions.Width must be between 200 and 10000 pixels.");
        if (Height < 150 || Height > 10000)
            throw new ArgumentOutOfRangeException(nameof(Height), Height, "PlotOptions.Height must be between 150 and 10000 pixels.");
        if (!(PointRadius > 0 && PointRadius <= 100))
            throw new ArgumentOutOfRangeException(nameof(PointRadius), PointRadius, "PlotOptions.PointRadius must be in (0, 100].");
        if (!(PointOpacity > 0 && PointOpacity <= 1))
            throw new ArgumentOutOfRangeException(nameof(PointOpacity), PointOpacity, "PlotOptions.PointOpacity must be in (0, 1].");
    }
}

/// <summary>The matplotlib "tab10" colour cycle, used for labels and series.</summary>
public static class PlotColors
{
    /// <summary>tab10 as "#rrggbb": blue, orange, green, red, purple, brown, pink, gray, olive, cyan.</summary>
    public static IReadOnlyList<string> Tab10 { get; } =
    [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ];

    private static readonly Rgb[] Tab10Rgb = Tab10.Select(Rgb.FromHex).ToArray();

    /// <summary>Colour of integer label <paramref name="label"/>: tab10[label mod 10].</summary>
    internal static Rgb ForLabel(int label) => Tab10Rgb[((label % 10) + 10) % 10];
}

/// <summary>
/// A finished plot: validated data and layout, ready to be written as SVG (vector, exact text) or
/// PNG (rendered by the built-in rasterizer; text uses a 5x8 bitmap font, scaled 2x, title 3x).
/// Create one with <see cref="LatentScatterPlot"/>, <see cref="LearningCurvePlot"/> or <see cref="BarChart"/>.
/// </summary>
public sealed class Figure
{
    private readonly Action<IPlotSurface> _draw;
    private readonly string? _title;

    internal Figure(int width, int height, string? title, Action<IPlotSurface> draw)
    {
        Width = width;
        Height = height;
        _title = title;
        _draw = draw;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Writes the plot as an SVG document (UTF-8) to <paramref name="stream"/> (left open).</summary>
    public void WriteSvg(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var svg = new SvgSurface(stream, Width, Height, _title);
        _draw(svg);
    }

    /// <summary>The plot as an SVG document string.</summary>
    public string ToSvg()
    {
        using var memory = new MemoryStream();
        WriteSvg(memory);
        return Encoding.UTF8.GetString(memory.ToArray());
    }

    /// <summary>Renders the plot into an RGB image.</summary>
    public PixelImage Render()
    {
        var raster = new RasterSurface(Width, Height);
        _draw(raster);
        return raster.Canvas.ToImage();
    }

    /// <summary>Writes the rendered plot as a PNG to <paramref name="stream"/> (left open).</summary>
    public void WritePng(Stream stream) => PngEncoder.Write(stream, Render());

    /// <summary>Writes the SVG to the file <paramref name="path"/> atomically.</summary>
    public void SaveSvg(string path) => AtomicFile.Write(path, WriteSvg);

    /// <summary>Writes the PNG to the file <paramref name="path"/> atomically.</summary>
    public void SavePng(string path)
    {
        PixelImage image = Render();
        AtomicFile.Write(path, s => PngEncoder.Write(s, image));
    }
}
