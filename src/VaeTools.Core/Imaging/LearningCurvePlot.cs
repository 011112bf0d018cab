namespace VaeTools.Imaging;

/// <summary>One named line of a <see cref="LearningCurvePlot"/>: a value per epoch (epoch 1 first). NaN marks an epoch without a value.</summary>
public sealed record LineSeries(string Name, IReadOnlyList<double> Values);

/// <summary>
/// Loss per epoch as lines with markers (circles for the 1st, 3rd, ... series, squares for the 2nd, 4th, ...),
/// tab10 colours, legend in the upper right. Epochs are numbered from 1 on the x axis.
/// Markers are drawn when no series is longer than <see cref="MaxMarkedEpochs"/>; in SVG each is one
/// element with class "marker".
/// </summary>
public static class LearningCurvePlot
{
    /// <summary>Series longer than this are drawn as lines only, without markers.</summary>
    public const int MaxMarkedEpochs = 100;

    /// <summary>
    /// Training loss per epoch and, optionally (empty span = none), test loss per epoch, named "train" and "test".
    /// Axis labels default to "epoch" and "loss".
    /// </summary>
    public static Figure Create(ReadOnlySpan<double> trainLoss, ReadOnlySpan<double> testLoss, PlotOptions? options = null)
    {
        var series = new List<LineSeries> { new("train", trainLoss.ToArray()) };
        if (!testLoss.IsEmpty)
            series.Add(new LineSeries("test", testLoss.ToArray()));
        return Create(series, options);
    }

    /// <summary>Any number of named per-epoch series (at least one; values finite or NaN for "not measured").</summary>
    public static Figure Create(IReadOnlyList<LineSeries> series, PlotOptions? options = null)
    {
        options ??= new PlotOptions();
        options.Validate();
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0)
            throw new ArgumentException("series is empty; a learning curve needs at least one series.", nameof(series));
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        int epochs = 0;
        var copies = new double[series.Count][];
        for (int k = 0; k < series.Count; k++)
        {
            LineSeries sr = series[k] ?? throw new ArgumentNullException(nameof(series), $"series[{k}] is null.");
            if (sr.Values is null || sr.Values.Count == 0)
                throw new ArgumentException($"Series '{sr.Name}' has no values.", nameof(series));
            copies[k] = sr.Values.ToArray();
            epochs = Math.Max(epochs, copies[k].Length);
            for (int e = 0; e < copies[k].Length; e++)
            {
                double v = copies[k][e];
                if (double.IsInfinity(v))
                    throw new ArgumentException($"Series '{sr.Name}' has {v} at epoch {e + 1}; values must be finite (NaN = no value).", nameof(series));
                if (double.IsNaN(v)) continue;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        }
        if (double.IsInfinity(min))
            throw new ArgumentException("Every value of every series is NaN; nothing to plot.", nameof(series));
        string[] names = series.Select(s => s.Name ?? "").ToArray();
        bool markers = epochs <= MaxMarkedEpochs;
        string xLabel = options.XLabel ?? "epoch", yLabel = options.YLabel ?? "loss";
        var opt = options;

        return new Figure(options.Width, options.Height, options.Title, s =>
        {
            var xAxis = Axis.Linear(1, epochs, margin: 0.03, targetTicks: 8, integerTicks: true);
            var yAxis = Axis.Linear(min, max);
            var frame = PlotFrame.Layout(s, opt.Title, xLabel, yLabel, xAxis, yAxis, 0);
            var legendSize = PlotFrame.LegendSize(s, names);
            var inside = frame.PlaceLegendInside(legendSize, (x0, y0, x1, y1) => HitsCurves(frame, copies, x0, y0, x1, y1));
            if (inside is null) // every corner has data: legend outside, right of a narrower plot
                frame = PlotFrame.Layout(s, opt.Title, xLabel, yLabel, xAxis, yAxis, legendSize.Width + 12);
            var legendAt = inside ?? (frame.Right + 12, frame.Top);
            frame.DrawBackground(s);
            for (int k = 0; k < copies.Length; k++)
            {
                Rgb color = PlotColors.ForLabel(k);
                s.BeginGroup("series");
                // One polyline per run of measured epochs (NaN breaks the line).
                var run = new List<(double X, double Y)>();
                for (int e = 0; e <= copies[k].Length; e++)
                {
                    if (e < copies[k].Length && !double.IsNaN(copies[k][e]))
                    {
                        run.Add((frame.MapX(e + 1), frame.MapY(copies[k][e])));
                        continue;
                    }
                    if (run.Count > 1) s.Polyline(run, color, 2, "line");
                    run.Clear();
                }
                if (markers)
                    for (int e = 0; e < copies[k].Length; e++)
                        if (!double.IsNaN(copies[k][e]))
                            DrawMarker(s, k, frame.MapX(e + 1), frame.MapY(copies[k][e]), color, "marker");
                s.EndGroup();
            }
            frame.DrawAxes(s, opt.Title, xLabel, yLabel);
            PlotFrame.DrawLegend(s, legendAt.X, legendAt.Y, names, (k, cx, cy) =>
            {
                Rgb color = PlotColors.ForLabel(k);
                s.Line(cx - 9, cy, cx + 9, cy, color, 2, "legend-line");
                DrawMarker(s, k, cx, cy, color, "legend-swatch");
            });
        });
    }

    private static bool HitsCurves(PlotFrame frame, double[][] series, double x0, double y0, double x1, double y1)
    {
        foreach (double[] values in series)
            for (int e = 0; e < values.Length; e++)
            {
                if (double.IsNaN(values[e])) continue;
                double px = frame.MapX(e + 1), py = frame.MapY(values[e]);
                bool nextOk = e + 1 < values.Length && !double.IsNaN(values[e + 1]);
                double qx = nextOk ? frame.MapX(e + 2) : px, qy = nextOk ? frame.MapY(values[e + 1]) : py;
                if (PlotFrame.SegmentHitsBox(px, py, qx, qy, 5, x0, y0, x1, y1)) return true;
            }
        return false;
    }

    private static void DrawMarker(IPlotSurface s, int series, double x, double y, Rgb color, string cssClass)
    {
        if (series % 2 == 0)
            s.Circle(x, y, 4, color, 1, cssClass);
        else
            s.Rect(x - 3.5, y - 3.5, 7, 7, color, 1, cssClass: cssClass);
    }
}
