namespace VaeTools.Imaging;

/// <summary>An opaque 8-bit sRGB colour.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>Parses "#rrggbb".</summary>
    public static Rgb FromHex(string hex)
    {
        if (hex.Length != 7 || hex[0] != '#')
            throw new FormatException($"Colour '{hex}' is not of the form #rrggbb.");
        int v = Convert.ToInt32(hex[1..], 16);
        return new Rgb((byte)(v >> 16), (byte)(v >> 8), (byte)v);
    }

    /// <summary>"#rrggbb".</summary>
    public string ToHex() => $"#{R:x2}{G:x2}{B:x2}";

    public static readonly Rgb White = new(255, 255, 255);
    public static readonly Rgb Black = new(0, 0, 0);
}

/// <summary>
/// A small software rasterizer over an RGB pixel buffer: anti-aliased filled rectangles, circles
/// and thick polylines (coverage from exact box overlap or distance to the shape, alpha-blended),
/// and text in the <see cref="BitmapFont"/> at an integer scale. Coordinates are in pixels with
/// (0, 0) the top-left corner of the top-left pixel, so pixel (x, y) has its centre at (x + 0.5, y + 0.5).
/// </summary>
internal sealed class RasterCanvas
{
    private readonly byte[] _rgb; // [Height x Width x 3]

    public RasterCanvas(int width, int height, Rgb background)
    {
        PixelImage.CheckSize(width, height, PixelFormat.Rgb24);
        Width = width;
        Height = height;
        _rgb = new byte[width * height * 3];
        for (int i = 0; i < _rgb.Length; i += 3)
        {
            _rgb[i] = background.R; _rgb[i + 1] = background.G; _rgb[i + 2] = background.B;
        }
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>The pixels as an RGB image (copied).</summary>
    public PixelImage ToImage() => new(Width, Height, PixelFormat.Rgb24, (byte[])_rgb.Clone());

    /// <summary>Mixes <paramref name="color"/> into pixel (x, y) with weight <paramref name="alpha"/> in [0, 1]; outside pixels are ignored.</summary>
    public void Blend(int x, int y, Rgb color, double alpha)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || alpha <= 0) return;
        if (alpha > 1) alpha = 1;
        int i = (y * Width + x) * 3;
        _rgb[i] = Mix(_rgb[i], color.R, alpha);
        _rgb[i + 1] = Mix(_rgb[i + 1], color.G, alpha);
        _rgb[i + 2] = Mix(_rgb[i + 2], color.B, alpha);
    }

    private static byte Mix(byte under, byte over, double alpha) => (byte)(under + (over - under) * alpha + 0.5);

    /// <summary>Fills the rectangle [x0, x1) x [y0, y1); partly covered edge pixels get partial coverage.</summary>
    public void FillRect(double x0, double y0, double x1, double y1, Rgb color, double alpha = 1)
    {
        if (x1 < x0) (x0, x1) = (x1, x0);
        if (y1 < y0) (y0, y1) = (y1, y0);
        int px0 = Math.Max(0, (int)Math.Floor(x0)), px1 = Math.Min(Width - 1, (int)Math.Ceiling(x1) - 1);
        int py0 = Math.Max(0, (int)Math.Floor(y0)), py1 = Math.Min(Height - 1, (int)Math.Ceiling(y1) - 1);
        for (int y = py0; y <= py1; y++)
        {
            double cy = Math.Min(y + 1, y1) - Math.Max(y, y0);
            for (int x = px0; x <= px1; x++)
            {
                double cx = Math.Min(x + 1, x1) - Math.Max(x, x0);
                Blend(x, y, color, alpha * cx * cy);
            }
        }
    }

    /// <summary>Fills a disc; the edge is anti-aliased over one pixel.</summary>
    public void FillCircle(double cx, double cy, double radius, Rgb color, double alpha = 1)
    {
        int x0 = (int)Math.Floor(cx - radius - 1), x1 = (int)Math.Ceiling(cx + radius + 1);
        int y0 = (int)Math.Floor(cy - radius - 1), y1 = (int)Math.Ceiling(cy + radius + 1);
        for (int y = Math.Max(0, y0); y <= Math.Min(Height - 1, y1); y++)
            for (int x = Math.Max(0, x0); x <= Math.Min(Width - 1, x1); x++)
            {
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                double coverage = Math.Clamp(radius + 0.5 - Math.Sqrt(dx * dx + dy * dy), 0, 1);
                if (coverage > 0) Blend(x, y, color, alpha * coverage);
            }
    }

    /// <summary>
    /// Strokes a polyline of width <paramref name="lineWidth"/> with round joins and caps. Coverage is the
    /// maximum over segments, so joints are not blended twice.
    /// </summary>
    public void StrokePolyline(ReadOnlySpan<(double X, double Y)> points, double lineWidth, Rgb color, double alpha = 1)
    {
        if (points.Length == 0) return;
        double half = lineWidth / 2;
        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue;
        foreach (var (px, py) in points)
        {
            minX = Math.Min(minX, px); maxX = Math.Max(maxX, px);
            minY = Math.Min(minY, py); maxY = Math.Max(maxY, py);
        }
        int bx0 = Math.Max(0, (int)Math.Floor(minX - half - 1)), bx1 = Math.Min(Width - 1, (int)Math.Ceiling(maxX + half + 1));
        int by0 = Math.Max(0, (int)Math.Floor(minY - half - 1)), by1 = Math.Min(Height - 1, (int)Math.Ceiling(maxY + half + 1));
        if (bx1 < bx0 || by1 < by0) return;
        int bw = bx1 - bx0 + 1;
        var mask = new float[bw * (by1 - by0 + 1)]; // coverage over the bounding box
        for (int s = 0; s < Math.Max(1, points.Length - 1); s++)
        {
            var (ax, ay) = points[s];
            var (qx, qy) = points[Math.Min(s + 1, points.Length - 1)];
            int sx0 = Math.Max(bx0, (int)Math.Floor(Math.Min(ax, qx) - half - 1)), sx1 = Math.Min(bx1, (int)Math.Ceiling(Math.Max(ax, qx) + half + 1));
            int sy0 = Math.Max(by0, (int)Math.Floor(Math.Min(ay, qy) - half - 1)), sy1 = Math.Min(by1, (int)Math.Ceiling(Math.Max(ay, qy) + half + 1));
            double dx = qx - ax, dy = qy - ay, len2 = dx * dx + dy * dy;
            for (int y = sy0; y <= sy1; y++)
                for (int x = sx0; x <= sx1; x++)
                {
                    double px = x + 0.5 - ax, py = y + 0.5 - ay;
                    double t = len2 > 0 ? Math.Clamp((px * dx + py * dy) / len2, 0, 1) : 0;
                    double ex = px - t * dx, ey = py - t * dy;
                    float coverage = (float)Math.Clamp(half + 0.5 - Math.Sqrt(ex * ex + ey * ey), 0, 1);
                    ref float m = ref mask[(y - by0) * bw + (x - bx0)];
                    if (coverage > m) m = coverage;
                }
        }
        for (int y = by0; y <= by1; y++)
            for (int x = bx0; x <= bx1; x++)
            {
                float m = mask[(y - by0) * bw + (x - bx0)];
                if (m > 0) Blend(x, y, color, alpha * m);
            }
    }

    /// <summary>A straight line segment (see <see cref="StrokePolyline"/>).</summary>
    public void StrokeLine(double x0, double y0, double x1, double y1, double lineWidth, Rgb color, double alpha = 1) =>
        StrokePolyline([(x0, y0), (x1, y1)], lineWidth, color, alpha);

    /// <summary>
    /// Draws <paramref name="text"/> with its top-left font pixel at (x, y), each font pixel a
    /// <paramref name="scale"/> x <paramref name="scale"/> block. When <paramref name="vertical"/>, the text
    /// runs bottom-to-top (rotated 90° counter-clockwise) and (x, y) is its bottom-left corner.
    /// <paramref name="bold"/> doubles each stroke one pixel to the right.
    /// </summary>
    public void DrawText(string text, int x, int y, int scale, Rgb color, bool vertical = false, bool bold = false)
    {
        for (int i = 0; i < text.Length; i++)
        {
            ReadOnlySpan<byte> glyph = BitmapFont.Glyph(text[i]);
            for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                {
                    if ((glyph[col] >> row & 1) == 0) continue;
                    int along = (i * BitmapFont.Advance + col) * scale; // distance along the text direction
                    int across = row * scale;                          // distance down the glyph
                    for (int a = 0; a < scale + (bold ? 1 : 0); a++)
                        for (int b = 0; b < scale; b++)
                        {
                            if (vertical) Blend(x + across + b, y - along - a - 1, color, 1);
                            else Blend(x + along + a, y + across + b, color, 1);
                        }
                }
        }
    }
}
