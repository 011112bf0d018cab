using System.Globalization;

namespace VaeTools.Imaging;

/// <summary>One axis: the data range shown, and where the ticks go with their labels.</summary>
internal sealed class Axis
{
    public Axis(double min, double max, double[] ticks, string[] labels)
    {
        Min = min; Max = max; Ticks = ticks; Labels = labels;
    }

    public double Min { get; }
    public double Max { get; }
    public double[] Ticks { get; }
    public string[] Labels { get; }

    /// <summary>
    /// A linear axis covering [dataMin, dataMax] widened by <paramref name="margin"/> of the span on
    /// each side (not below 0 when <paramref name="zeroFloor"/> and dataMin is 0 or more), with 1-2-5 ticks.
    /// </summary>
    public static Axis Linear(double dataMin, double dataMax, double margin = 0.05, int targetTicks = 5,
        bool integerTicks = false, bool zeroFloor = false)
    {
        if (dataMax < dataMin) (dataMin, dataMax) = (dataMax, dataMin);
        double span = dataMax - dataMin;
        if (span <= Math.Abs(dataMax) * 1e-12 || span == 0)
        {
            // A single value: show a small range around it.
            double pad = dataMax == 0 ? 1 : Math.Abs(dataMax) * 0.1;
            if (integerTicks) pad = Math.Max(pad, 1);
            dataMin -= pad; dataMax += pad; span = dataMax - dataMin;
        }
        double min = dataMin - margin * span, max = dataMax + margin * span;
        if (zeroFloor && dataMin >= 0 && min < 0) min = 0;
        double step = NiceTicks.Step((max - min) / targetTicks);
        if (integerTicks) step = Math.Max(1, step);
        double[] ticks = NiceTicks.Ticks(min, max, step);
        return new Axis(min, max, ticks, ticks.Select(t => NiceTicks.Format(t, step)).ToArray());
    }
}

/// <summary>Tick steps of 1, 2 or 5 times a power of ten, and their labels.</summary>
internal static class NiceTicks
{
    /// <summary>
    /// The step of the form {1, 2, 5} x 10^k nearest to <paramref name="rawStep"/> on a log scale
    /// (the boundaries are the geometric midpoints sqrt(2), sqrt(10), sqrt(50)).
    /// </summary>
    public static double Step(double rawStep)
    {
        if (!(rawStep > 0) || double.IsInfinity(rawStep))
            throw new ArgumentOutOfRangeException(nameof(rawStep), rawStep, "A tick step must be a positive finite number.");
        double power = Math.Pow(10, Math.Floor(Math.Log10(rawStep)));
        double f = rawStep / power;
        double nice = f < Math.Sqrt(2) ? 1 : f < Math.Sqrt(10) ? 2 : f < Math.Sqrt(50) ? 5 : 10;
        return nice * power;
    }

    /// <summary>Multiples of <paramref name="step"/> inside [min, max].</summary>
    public static double[] Ticks(double min, double max, double step)
    {
        var ticks = new List<double>();
        long first = (long)Math.Ceiling(min / step - 1e-9), last = (long)Math.Floor(max / step + 1e-9);
        for (long k = first; k <= last && ticks.Count < 1000; k++)
            ticks.Add(k * step); // k * step, not accumulated sums, so 0.3 stays 0.3 after formatting
        return ticks.ToArray();
    }

    /// <summary>Formats a tick with as many decimals as the step needs (step 0.05 gives "0.15"); huge or tiny steps use E notation.</summary>
    public static string Format(double value, double step)
    {
        if (Math.Abs(value) < step * 1e-6) value = 0; // no "-0"
        double magnitude = Math.Max(Math.Abs(value), step);
        if (magnitude >= 1e6 || step < 1e-4)
            return value.ToString("0.###E+0", CultureInfo.InvariantCulture);
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// The layout shared by all plots: plot area inside margins sized for title, axis labels and tick
/// labels; grid, frame, ticks and texts; data-to-pixel mapping.
/// </summary>
internal sealed class PlotFrame
{
    private const double Gap = 10, TickLength = 5;
    public static readonly Rgb TextColor = new(0x22, 0x22, 0x22);
    public static readonly Rgb GridColor = new(0xe6, 0xe6, 0xe6);
    public static readonly Rgb FrameColor = new(0x44, 0x44, 0x44);

    private PlotFrame(Axis x, Axis y, double left, double top, double right, double bottom)
    {
        X = x; Y = y; Left = left; Top = top; Right = right; Bottom = bottom;
    }

    public Axis X { get; }
    public Axis Y { get; }
    public double Left { get; }
    public double Top { get; }
    public double Right { get; }
    public double Bottom { get; }

    public double MapX(double v) => Left + (v - X.Min) / (X.Max - X.Min) * (Right - Left);
    public double MapY(double v) => Bottom - (v - Y.Min) / (Y.Max - Y.Min) * (Bottom - Top);

    /// <summary>The pixel centre nearest below <paramref name="v"/>: where a sharp 1-px line must go.</summary>
    public static double Crisp(double v) => Math.Floor(v) + 0.5;

    /// <summary>Computes the plot area; <paramref name="rightReserve"/> is room kept free on the right (a legend outside the plot).</summary>
    public static PlotFrame Layout(IPlotSurface s, string? title, string xLabel, string yLabel, Axis x, Axis y, double rightReserve)
    {
        double top = Gap * 2 + (string.IsNullOrEmpty(title) ? 0 : s.TextHeight(FontRole.Title) + Gap);
        double tickLabelWidth = y.Labels.Select(l => s.TextWidth(l, FontRole.Tick)).DefaultIfEmpty(0).Max();
        double left = Gap * 1.5 + (yLabel.Length > 0 ? s.TextHeight(FontRole.Label) + Gap * 1.5 : 0) + tickLabelWidth + TickLength + 6;
        double bottom = s.Height - (Gap * 1.5 + (xLabel.Length > 0 ? s.TextHeight(FontRole.Label) + Gap * 1.5 : 0)
                                    + s.TextHeight(FontRole.Tick) + TickLength + 8);
        // Half a tick label may stick out right of the last x tick.
        double lastLabel = x.Labels.Length > 0 ? s.TextWidth(x.Labels[^1], FontRole.Tick) / 2 : 0;
        double right = s.Width - Math.Max(Gap * 2, lastLabel + 4) - rightReserve;
        // Frame edges on pixel centres so 1-px lines stay sharp in both SVG and PNG.
        left = Crisp(left); top = Crisp(top); right = Crisp(right); bottom = Crisp(bottom);
        if (right - left < 40 || bottom - top < 40)
            throw new ArgumentException($"A {s.Width} x {s.Height} picture leaves no room for the plot area; make it larger or the labels shorter.");
        return new PlotFrame(x, y, left, top, right, bottom);
    }

    /// <summary>White page and light grid lines at the ticks (drawn before the data).</summary>
    public void DrawBackground(IPlotSurface s, bool xGrid = true, bool yGrid = true)
    {
        s.Rect(0, 0, s.Width, s.Height, Rgb.White, cssClass: "background");
        s.BeginGroup("grid");
        if (xGrid)
            foreach (double t in X.Ticks)
                s.Line(Crisp(MapX(t)), Top, Crisp(MapX(t)), Bottom, GridColor, 1);
        if (yGrid)
            foreach (double t in Y.Ticks)
                s.Line(Left, Crisp(MapY(t)), Right, Crisp(MapY(t)), GridColor, 1);
        s.EndGroup();
    }

    /// <summary>Frame, ticks, tick labels, axis labels and title (drawn after the data).</summary>
    public void DrawAxes(IPlotSurface s, string? title, string xLabel, string yLabel)
    {
        s.BeginGroup("axes");
        s.Rect(Left, Top, Right - Left, Bottom - Top, Rgb.White, opacity: 0, stroke: FrameColor, cssClass: "frame");
        for (int i = 0; i < X.Ticks.Length; i++)
        {
            double px = Crisp(MapX(X.Ticks[i]));
            s.Line(px, Bottom, px, Bottom + TickLength, FrameColor, 1, "tick");
            s.Text(px, Bottom + TickLength + 4 + s.TextHeight(FontRole.Tick) / 2, X.Labels[i], FontRole.Tick, TextAnchor.Middle, TextColor, cssClass: "tick-label");
        }
        for (int i = 0; i < Y.Ticks.Length; i++)
        {
            double py = Crisp(MapY(Y.Ticks[i]));
            s.Line(Left - TickLength, py, Left, py, FrameColor, 1, "tick");
            s.Text(Left - TickLength - 4, py, Y.Labels[i], FontRole.Tick, TextAnchor.End, TextColor, cssClass: "tick-label");
        }
        if (xLabel.Length > 0)
            s.Text((Left + Right) / 2, s.Height - Gap * 1.5 - s.TextHeight(FontRole.Label) / 2, xLabel, FontRole.Label, TextAnchor.Middle, TextColor, cssClass: "axis-label");
        if (yLabel.Length > 0)
            s.Text(Gap * 1.5 + s.TextHeight(FontRole.Label) / 2, (Top + Bottom) / 2, yLabel, FontRole.Label, TextAnchor.Middle, TextColor, vertical: true, cssClass: "axis-label");
        s.EndGroup();
        if (!string.IsNullOrEmpty(title))
            s.Text((Left + Right) / 2, Gap * 2 + s.TextHeight(FontRole.Title) / 2, title, FontRole.Title, TextAnchor.Middle, TextColor, cssClass: "title");
    }

    /// <summary>Size of a legend box for entries with these texts (swatch + text per row).</summary>
    public static (double Width, double Height) LegendSize(IPlotSurface s, IReadOnlyList<string> texts)
    {
        double row = s.TextHeight(FontRole.Tick) * 2;
        double text = texts.Select(t => s.TextWidth(t, FontRole.Tick)).DefaultIfEmpty(0).Max();
        return (8 + 22 + text + 10, row * texts.Count + 8);
    }

    /// <summary>
    /// Top-left corner for a legend of <paramref name="size"/> inside the plot area: the first of upper
    /// right, upper left, lower right, lower left whose box (plus a small margin) does not touch data
    /// according to <paramref name="hitsData"/>(x0, y0, x1, y1); null when every corner is taken.
    /// </summary>
    public (double X, double Y)? PlaceLegendInside((double Width, double Height) size, Func<double, double, double, double, bool> hitsData)
    {
        const double inset = 10, margin = 4;
        var (w, h) = size;
        (double X, double Y)[] corners =
        [
            (Right - inset - w, Top + inset), (Left + inset, Top + inset),
            (Right - inset - w, Bottom - inset - h), (Left + inset, Bottom - inset - h),
        ];
        foreach (var (x, y) in corners)
            if (x >= Left && !hitsData(x - margin, y - margin, x + w + margin, y + h + margin))
                return (x, y);
        return null;
    }

    /// <summary>Whether segment (x1, y1)-(x2, y2), widened by <paramref name="pad"/>, touches box [x0, x1b] x [y0, y1b] (sampled every pixel).</summary>
    public static bool SegmentHitsBox(double x1, double y1, double x2, double y2, double pad,
        double bx0, double by0, double bx1, double by1)
    {
        int steps = (int)Math.Ceiling(Math.Max(Math.Abs(x2 - x1), Math.Abs(y2 - y1))) + 1;
        for (int i = 0; i <= steps; i++)
        {
            double t = (double)i / steps, x = x1 + t * (x2 - x1), y = y1 + t * (y2 - y1);
            if (x >= bx0 - pad && x <= bx1 + pad && y >= by0 - pad && y <= by1 + pad) return true;
        }
        return false;
    }

    /// <summary>
    /// Draws a legend box with its top-left corner at (x, y); <paramref name="swatch"/> draws entry i's
    /// symbol centred at the given point.
    /// </summary>
    public static void DrawLegend(IPlotSurface s, double x, double y, IReadOnlyList<string> texts, Action<int, double, double> swatch)
    {
        var (w, h) = LegendSize(s, texts);
        double row = s.TextHeight(FontRole.Tick) * 2;
        s.BeginGroup("legend");
        s.Rect(x, y, w, h, Rgb.White, opacity: 0.9, stroke: new Rgb(0xcc, 0xcc, 0xcc), cssClass: "legend-box");
        for (int i = 0; i < texts.Count; i++)
        {
            double cy = y + 4 + row * (i + 0.5);
            s.BeginGroup("legend-entry");
            swatch(i, x + 8 + 9, cy);
            s.Text(x + 8 + 22, cy, texts[i], FontRole.Tick, TextAnchor.Start, TextColor);
            s.EndGroup();
        }
        s.EndGroup();
    }
}
