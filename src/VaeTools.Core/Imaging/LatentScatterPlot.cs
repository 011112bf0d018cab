using VaeTools.Engine;

namespace VaeTools.Imaging;

/// <summary>
/// Scatter plot of 2-D points (e.g. latent means z = (z1, z2) of test images) coloured by integer
/// label with the tab10 colours (label mod 10), with a legend of the labels present, sorted.
/// In SVG every point is one <c>&lt;circle class="point"&gt;</c>; legend rows are <c>&lt;g class="legend-entry"&gt;</c>.
/// </summary>
public static class LatentScatterPlot
{
    /// <summary>
    /// Builds the plot. <paramref name="x"/> and <paramref name="y"/> are the coordinates of N points
    /// (finite); <paramref name="labels"/> is N labels, or empty for one colour and no legend.
    /// Axis labels default to "z1" and "z2".
    /// </summary>
    public static Figure Create(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<int> labels, PlotOptions? options = null)
    {
        options ??= new PlotOptions();
        options.Validate();
        if (x.Length == 0)
            throw new ArgumentException("x is empty; a scatter plot needs at least one point.", nameof(x));
        if (y.Length != x.Length)
            throw new ArgumentException($"x has {x.Length} values but y has {y.Length}; they must have the same length.", nameof(y));
        if (labels.Length != 0 && labels.Length != x.Length)
            throw new ArgumentException($"labels has {labels.Length} values but there are {x.Length} points; give one label per point or none.", nameof(labels));
        for (int i = 0; i < x.Length; i++)
            if (!float.IsFinite(x[i]) || !float.IsFinite(y[i]))
                throw new ArgumentException($"Point {i} is ({x[i]}, {y[i]}); coordinates must be finite numbers.", float.IsFinite(x[i]) ? nameof(y) : nameof(x));

        float[] xs = x.ToArray(), ys = y.ToArray();
        int[]? ls = labels.Length > 0 ? labels.ToArray() : null;
        int[] distinct = ls?.Distinct().Order().ToArray() ?? [];
        string[] legend = distinct.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        float minX = xs.Min(), maxX = xs.Max(), minY = ys.Min(), maxY = ys.Max();
        string xLabel = options.XLabel ?? "z1", yLabel = options.YLabel ?? "z2";
        var opt = options;

        return new Figure(options.Width, options.Height, options.Title, s =>
        {
            var xAxis = Axis.Linear(minX, maxX);
            var yAxis = Axis.Linear(minY, maxY);
            double legendWidth = legend.Length > 0 ? PlotFrame.LegendSize(s, legend).Width + 12 : 0;
            var frame = PlotFrame.Layout(s, opt.Title, xLabel, yLabel, xAxis, yAxis, legendWidth);
            frame.DrawBackground(s);
            s.BeginGroup("points");
            Rgb single = PlotColors.ForLabel(0);
            for (int i = 0; i < xs.Length; i++)
                s.Circle(frame.MapX(xs[i]), frame.MapY(ys[i]), opt.PointRadius,
                    ls is null ? single : PlotColors.ForLabel(ls[i]), opt.PointOpacity, "point");
            s.EndGroup();
            frame.DrawAxes(s, opt.Title, xLabel, yLabel);
            if (legend.Length > 0)
                PlotFrame.DrawLegend(s, frame.Right + 12, frame.Top, legend,
                    (i, cx, cy) => s.Circle(cx, cy, 5, PlotColors.ForLabel(distinct[i]), 1, "legend-swatch"));
        });
    }

    /// <summary>Builds the plot from the rows of <paramref name="points"/> ([N x 2], e.g. latent means).</summary>
    public static Figure Create(Tensor points, ReadOnlySpan<int> labels, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Cols != 2)
            throw new ShapeMismatchException($"points is {points.Shape}; a latent scatter plot needs [N x 2] (use the first two latent dimensions).");
        var x = new float[points.Rows];
        var y = new float[points.Rows];
        for (int i = 0; i < points.Rows; i++)
        {
            x[i] = points[i, 0];
            y[i] = points[i, 1];
        }
        return Create(x, y, labels, options);
    }
}
