namespace VaeTools.Imaging;

/// <summary>
/// Bars with optional error bars, one per category (e.g. mean reconstruction error per digit with
/// ± one standard deviation or standard error). Bars start at 0. In SVG each bar is a
/// <c>&lt;rect class="bar"&gt;</c> and each error bar a <c>&lt;g class="error-bar"&gt;</c>.
/// </summary>
public static class BarChart
{
    private static readonly Rgb ErrorColor = new(0x33, 0x33, 0x33);

    /// <summary>
    /// Builds the chart. <paramref name="values"/> holds one finite value per category; <paramref name="errors"/>
    /// holds one half-length (&gt;= 0) per category, or is empty for no error bars. <paramref name="legend"/>,
    /// when given (e.g. "mean ± std"), labels the bar-with-error-bar symbol in a legend.
    /// Axis labels default to none.
    /// </summary>
    public static Figure Create(IReadOnlyList<string> categories, ReadOnlySpan<double> values, ReadOnlySpan<double> errors,
        PlotOptions? options = null, string? legend = null)
    {
        options ??= new PlotOptions();
        options.Validate();
        ArgumentNullException.ThrowIfNull(categories);
        if (categories.Count == 0)
            throw new ArgumentException("categories is empty; a bar chart needs at least one bar.", nameof(categories));
        if (values.Length != categories.Count)
            throw new ArgumentException($"There are {categories.Count} categories but {values.Length} values; give one value per category.", nameof(values));
        if (errors.Length != 0 && errors.Length != values.Length)
            throw new ArgumentException($"There are {values.Length} values but {errors.Length} errors; give one error per value or none.", nameof(errors));
        double min = 0, max = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i]))
                throw new ArgumentException($"Value {i} ('{categories[i]}') is {values[i]}; values must be finite.", nameof(values));
            double e = errors.IsEmpty ? 0 : errors[i];
            if (!double.IsFinite(e) || e < 0)
                throw new ArgumentException($"Error {i} ('{categories[i]}') is {e}; errors must be finite and >= 0.", nameof(errors));
            min = Math.Min(min, values[i] - e);
            max = Math.Max(max, values[i] + e);
        }
        string[] names = categories.Select(c => c ?? "").ToArray();
        double[] vs = values.ToArray();
        double[]? es = errors.IsEmpty ? null : errors.ToArray();
        string xLabel = options.XLabel ?? "", yLabel = options.YLabel ?? "";
        var opt = options;
        Rgb barColor = PlotColors.ForLabel(0);

        return new Figure(options.Width, options.Height, options.Title, s =>
        {
            var xAxis = new Axis(-0.5, names.Length - 0.5, Enumerable.Range(0, names.Length).Select(i => (double)i).ToArray(), names);
            var yAxis = Axis.Linear(min, max, zeroFloor: true);
            if (min < 0 && max <= 0) yAxis = Axis.Linear(min, 0); // all negative: keep the top at 0 too
            var frame = PlotFrame.Layout(s, opt.Title, xLabel, yLabel, xAxis, yAxis, 0);
            (double X, double Y) legendAt = default;
            if (legend != null)
            {
                var legendSize = PlotFrame.LegendSize(s, [legend]);
                var inside = frame.PlaceLegendInside(legendSize, (x0, y0, x1, y1) => HitsBars(frame, vs, es, x0, y0, x1, y1));
                if (inside is null) // bars reach every corner: legend outside, right of a narrower plot
                    frame = PlotFrame.Layout(s, opt.Title, xLabel, yLabel, xAxis, yAxis, legendSize.Width + 12);
                legendAt = inside ?? (frame.Right + 12, frame.Top);
            }
            frame.DrawBackground(s, xGrid: false);
            double slot = frame.MapX(1) - frame.MapX(0);
            double barWidth = slot * 0.7, cap = Math.Min(slot * 0.25, 12);
            double zero = frame.MapY(0);
            s.BeginGroup("bars");
            for (int i = 0; i < vs.Length; i++)
            {
                double top = frame.MapY(vs[i]);
                s.Rect(frame.MapX(i) - barWidth / 2, Math.Min(top, zero), barWidth, Math.Abs(zero - top), barColor, 0.9, cssClass: "bar");
            }
            s.EndGroup();
            if (yAxis.Min < 0)
                s.Line(frame.Left, zero, frame.Right, zero, PlotFrame.FrameColor, 1, "zero-line");
            if (es != null)
                for (int i = 0; i < vs.Length; i++)
                    DrawErrorBar(s, frame.MapX(i), frame.MapY(vs[i] - es[i]), frame.MapY(vs[i] + es[i]), cap);
            frame.DrawAxes(s, opt.Title, xLabel, yLabel);
            if (legend != null)
            {
                PlotFrame.DrawLegend(s, legendAt.X, legendAt.Y, [legend], (_, cx, cy) =>
                {
                    double h = s.TextHeight(FontRole.Tick);
                    s.Rect(cx - 6, cy - h / 2, 12, h, barColor, 0.9, cssClass: "legend-swatch");
                    if (es != null) DrawErrorBar(s, cx, cy + h * 0.8, cy - h * 0.8, 5);
                });
            }
        });
    }

    /// <summary>Whether box [x0, x1] x [y0, y1] overlaps a bar or its error bar (in pixels).</summary>
    private static bool HitsBars(PlotFrame frame, double[] values, double[]? errors, double x0, double y0, double x1, double y1)
    {
        double half = (frame.MapX(1) - frame.MapX(0)) * 0.35;
        for (int i = 0; i < values.Length; i++)
        {
            double e = errors?[i] ?? 0;
            double top = frame.MapY(Math.Max(values[i] + e, 0)), bottom = frame.MapY(Math.Min(values[i] - e, 0));
            double cx = frame.MapX(i);
            if (cx + half >= x0 && cx - half <= x1 && bottom >= y0 && top <= y1) return true;
        }
        return false;
    }

    private static void DrawErrorBar(IPlotSurface s, double x, double yLow, double yHigh, double cap)
    {
        s.BeginGroup("error-bar");
        s.Line(x, yLow, x, yHigh, ErrorColor, 1.5);
        s.Line(x - cap / 2, yLow, x + cap / 2, yLow, ErrorColor, 1.5);
        s.Line(x - cap / 2, yHigh, x + cap / 2, yHigh, ErrorColor, 1.5);
        s.EndGroup();
    }
}
