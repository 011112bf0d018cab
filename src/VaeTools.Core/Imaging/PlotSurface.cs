using System.Globalization;
using System.Text;
using System.Xml;

namespace VaeTools.Imaging;

/// <summary>Text roles: each surface maps them to its own font size.</summary>
internal enum FontRole { Tick, Label, Title }

/// <summary>Horizontal alignment of text relative to its anchor point.</summary>
internal enum TextAnchor { Start, Middle, End }

/// <summary>
/// The drawing operations plots need, implemented once for SVG and once for the raster (PNG), so
/// that one layout produces both. Coordinates are pixels, origin top-left, y down.
/// </summary>
internal interface IPlotSurface
{
    int Width { get; }
    int Height { get; }

    /// <summary>Width in pixels that <paramref name="text"/> takes in this role (estimated for SVG).</summary>
    double TextWidth(string text, FontRole role);

    /// <summary>Height in pixels of capitals in this role (what layout reserves for a line of text).</summary>
    double TextHeight(FontRole role);

    void Rect(double x, double y, double width, double height, Rgb fill, double opacity = 1, Rgb? stroke = null, string? cssClass = null);
    void Line(double x1, double y1, double x2, double y2, Rgb color, double width, string? cssClass = null);
    void Polyline(IReadOnlyList<(double X, double Y)> points, Rgb color, double width, string? cssClass = null);
    void Circle(double cx, double cy, double r, Rgb fill, double opacity = 1, string? cssClass = null);

    /// <summary>
    /// Text whose capitals are vertically centred on <paramref name="yMiddle"/>. When <paramref name="vertical"/>,
    /// the text reads bottom-to-top and (x, yMiddle) swap roles: <paramref name="x"/> is the centre across the
    /// text and the anchor applies along the y axis.
    /// </summary>
    void Text(double x, double yMiddle, string text, FontRole role, TextAnchor anchor, Rgb color, bool vertical = false, string? cssClass = null);

    void BeginGroup(string cssClass);
    void EndGroup();
}

/// <summary>Writes SVG 1.1 elements through an <see cref="XmlWriter"/> (so the output is always well-formed XML).</summary>
internal sealed class SvgSurface : IPlotSurface, IDisposable
{
    private readonly XmlWriter _xml;
    private const string Ns = "http://www.w3.org/2000/svg";

    public SvgSurface(Stream stream, int width, int height, string? title)
    {
        Width = width;
        Height = height;
        _xml = XmlWriter.Create(stream, new XmlWriterSettings
        {
            Encoding = new UTF8Encoding(false),
            Indent = true,
            IndentChars = "",
            CloseOutput = false,
        });
        _xml.WriteStartDocument();
        _xml.WriteStartElement("svg", Ns);
        Attr("width", width);
        Attr("height", height);
        _xml.WriteAttributeString("viewBox", $"0 0 {width} {height}");
        _xml.WriteAttributeString("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif");
        if (title != null)
            _xml.WriteElementString("title", Ns, title);
    }

    public int Width { get; }
    public int Height { get; }

    public static double FontSize(FontRole role) => role switch
    {
        FontRole.Tick => 13,
        FontRole.Label => 15,
        _ => 18,
    };

    // Average advance of DejaVu Sans / Helvetica is about 0.6 em for digits and lower case.
    public double TextWidth(string text, FontRole role) => text.Length * 0.6 * FontSize(role);

    public double TextHeight(FontRole role) => 0.73 * FontSize(role);

    public void Rect(double x, double y, double width, double height, Rgb fill, double opacity = 1, Rgb? stroke = null, string? cssClass = null)
    {
        _xml.WriteStartElement("rect", Ns);
        Class(cssClass);
        Attr("x", x); Attr("y", y); Attr("width", width); Attr("height", height);
        _xml.WriteAttributeString("fill", fill.ToHex());
        if (opacity < 1) Attr("fill-opacity", opacity);
        if (stroke is { } s) { _xml.WriteAttributeString("stroke", s.ToHex()); Attr("stroke-width", 1); }
        _xml.WriteEndElement();
    }

    public void Line(double x1, double y1, double x2, double y2, Rgb color, double width, string? cssClass = null)
    {
        _xml.WriteStartElement("line", Ns);
        Class(cssClass);
        Attr("x1", x1); Attr("y1", y1); Attr("x2", x2); Attr("y2", y2);
        _xml.WriteAttributeString("stroke", color.ToHex());
        Attr("stroke-width", width);
        _xml.WriteEndElement();
    }

    public void Polyline(IReadOnlyList<(double X, double Y)> points, Rgb color, double width, string? cssClass = null)
    {
        var sb = new StringBuilder();
        foreach (var (x, y) in points)
            sb.Append(Num(x)).Append(',').Append(Num(y)).Append(' ');
        _xml.WriteStartElement("polyline", Ns);
        Class(cssClass);
        _xml.WriteAttributeString("points", sb.ToString().TrimEnd());
        _xml.WriteAttributeString("fill", "none");
        _xml.WriteAttributeString("stroke", color.ToHex());
        Attr("stroke-width", width);
        _xml.WriteAttributeString("stroke-linejoin", "round");
        _xml.WriteAttributeString("stroke-linecap", "round");
        _xml.WriteEndElement();
    }

    public void Circle(double cx, double cy, double r, Rgb fill, double opacity = 1, string? cssClass = null)
    {
        _xml.WriteStartElement("circle", Ns);
        Class(cssClass);
        Attr("cx", cx); Attr("cy", cy); Attr("r", r);
        _xml.WriteAttributeString("fill", fill.ToHex());
        if (opacity < 1) Attr("fill-opacity", opacity);
        _xml.WriteEndElement();
    }

    public void Text(double x, double yMiddle, string text, FontRole role, TextAnchor anchor, Rgb color, bool vertical = false, string? cssClass = null)
    {
        double size = FontSize(role);
        double baselineShift = TextHeight(role) / 2; // baseline sits half a cap height below the middle
        _xml.WriteStartElement("text", Ns);
        Class(cssClass);
        if (vertical)
        {
            _xml.WriteAttributeString("transform", $"translate({Num(x)},{Num(yMiddle)}) rotate(-90)");
            Attr("x", 0); Attr("y", baselineShift);
        }
        else
        {
            Attr("x", x); Attr("y", yMiddle + baselineShift);
        }
        Attr("font-size", size);
        if (role == FontRole.Title) _xml.WriteAttributeString("font-weight", "bold");
        _xml.WriteAttributeString("text-anchor", anchor switch { TextAnchor.Start => "start", TextAnchor.Middle => "middle", _ => "end" });
        _xml.WriteAttributeString("fill", color.ToHex());
        _xml.WriteString(text);
        _xml.WriteEndElement();
    }

    public void BeginGroup(string cssClass)
    {
        _xml.WriteStartElement("g", Ns);
        Class(cssClass);
    }

    public void EndGroup() => _xml.WriteEndElement();

    public void Dispose()
    {
        _xml.WriteEndElement(); // svg
        _xml.WriteEndDocument();
        _xml.Flush();
        _xml.Dispose();
    }

    private void Class(string? cssClass)
    {
        if (cssClass != null) _xml.WriteAttributeString("class", cssClass);
    }

    private void Attr(string name, double value) => _xml.WriteAttributeString(name, Num(value));

    internal static string Num(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);
}

/// <summary>Draws plots into a <see cref="RasterCanvas"/> with the built-in bitmap font.</summary>
internal sealed class RasterSurface : IPlotSurface
{
    public RasterSurface(int width, int height)
    {
        Canvas = new RasterCanvas(width, height, Rgb.White);
    }

    public RasterCanvas Canvas { get; }
    public int Width => Canvas.Width;
    public int Height => Canvas.Height;

    private static int Scale(FontRole role) => 2; // 10 x 16 px glyph cells; the title is bold instead of bigger

    public double TextWidth(string text, FontRole role) => BitmapFont.Measure(text) * Scale(role) + (role == FontRole.Title ? 1 : 0);

    public double TextHeight(FontRole role) => 7 * Scale(role);

    public void Rect(double x, double y, double width, double height, Rgb fill, double opacity = 1, Rgb? stroke = null, string? cssClass = null)
    {
        Canvas.FillRect(x, y, x + width, y + height, fill, opacity);
        if (stroke is { } s)
        {
            Line(x, y, x + width, y, s, 1);
            Line(x, y + height, x + width, y + height, s, 1);
            Line(x, y, x, y + height, s, 1);
            Line(x + width, y, x + width, y + height, s, 1);
        }
    }

    public void Line(double x1, double y1, double x2, double y2, Rgb color, double width, string? cssClass = null)
    {
        // Axis-parallel lines of odd width are snapped onto pixel centres so they stay crisp.
        if (Math.Round(width) % 2 == 1)
        {
            if (x1 == x2) x1 = x2 = Math.Floor(x1) + 0.5;
            if (y1 == y2) y1 = y2 = Math.Floor(y1) + 0.5;
        }
        // A segment with flat ends: strokes are drawn with round caps, so pull the ends in for axis-parallel lines.
        if (x1 == x2 || y1 == y2)
        {
            double h = width / 2;
            Canvas.FillRect(Math.Min(x1, x2) - (x1 == x2 ? h : 0), Math.Min(y1, y2) - (y1 == y2 ? h : 0),
                Math.Max(x1, x2) + (x1 == x2 ? h : 0), Math.Max(y1, y2) + (y1 == y2 ? h : 0), color);
            return;
        }
        Canvas.StrokeLine(x1, y1, x2, y2, width, color);
    }

    public void Polyline(IReadOnlyList<(double X, double Y)> points, Rgb color, double width, string? cssClass = null) =>
        Canvas.StrokePolyline(points.ToArray(), width, color);

    public void Circle(double cx, double cy, double r, Rgb fill, double opacity = 1, string? cssClass = null) =>
        Canvas.FillCircle(cx, cy, r, fill, opacity);

    public void Text(double x, double yMiddle, string text, FontRole role, TextAnchor anchor, Rgb color, bool vertical = false, string? cssClass = null)
    {
        int scale = Scale(role);
        double length = TextWidth(text, role);
        double offset = anchor switch { TextAnchor.Start => 0, TextAnchor.Middle => -length / 2, _ => -length };
        double half = TextHeight(role) / 2;
        bool bold = role == FontRole.Title;
        if (vertical)
            Canvas.DrawText(text, (int)Math.Round(x - half), (int)Math.Round(yMiddle - offset), scale, color, vertical: true, bold);
        else
            Canvas.DrawText(text, (int)Math.Round(x + offset), (int)Math.Round(yMiddle - half), scale, color, vertical: false, bold);
    }

    public void BeginGroup(string cssClass) { }
    public void EndGroup() { }
}

/// <summary>A rectangle of another surface, drawn into with its own origin and size (one panel of a multi-panel figure).</summary>
internal sealed class PanelSurface(IPlotSurface inner, double left, double top, int width, int height) : IPlotSurface
{
    public int Width { get; } = width;
    public int Height { get; } = height;

    public double TextWidth(string text, FontRole role) => inner.TextWidth(text, role);
    public double TextHeight(FontRole role) => inner.TextHeight(role);

    public void Rect(double x, double y, double width, double height, Rgb fill, double opacity = 1, Rgb? stroke = null, string? cssClass = null) =>
        inner.Rect(x + left, y + top, width, height, fill, opacity, stroke, cssClass);

    public void Line(double x1, double y1, double x2, double y2, Rgb color, double width, string? cssClass = null) =>
        inner.Line(x1 + left, y1 + top, x2 + left, y2 + top, color, width, cssClass);

    public void Polyline(IReadOnlyList<(double X, double Y)> points, Rgb color, double width, string? cssClass = null) =>
        inner.Polyline(points.Select(p => (p.X + left, p.Y + top)).ToList(), color, width, cssClass);

    public void Circle(double cx, double cy, double r, Rgb fill, double opacity = 1, string? cssClass = null) =>
        inner.Circle(cx + left, cy + top, r, fill, opacity, cssClass);

    public void Text(double x, double yMiddle, string text, FontRole role, TextAnchor anchor, Rgb color, bool vertical = false, string? cssClass = null) =>
        inner.Text(x + left, yMiddle + top, text, role, anchor, color, vertical, cssClass);

    public void BeginGroup(string cssClass) => inner.BeginGroup(cssClass);
    public void EndGroup() => inner.EndGroup();
}
