using VaeTools.Engine;

namespace VaeTools.Imaging;

/// <summary>One panel of <see cref="LatentScatterPlot.CreatePanels"/>: its title, N points and N labels (or none).</summary>
public sealed record ScatterPanel(string Title, float[] X, float[] Y, int[] Labels);

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

    /// <summary>
    /// Several scatter plots side by side with the same axes (e.g. the training and test encodings, as the Uppsala lab
    /// draws them), each under its own title, the options' title above them all, and one legend (of every label
    /// present in any panel) right of the last. In SVG each panel is a <c>&lt;g class="panel"&gt;</c>.
    /// </summary>
    public static Figure CreatePanels(IReadOnlyList<ScatterPanel> panels, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(panels);
        options ??= new PlotOptions();
        options.Validate();
        if (panels.Count == 0) throw new ArgumentException("At least one panel is needed.", nameof(panels));
        foreach (var p in panels)
        {
            if (p.X.Length == 0) throw new ArgumentException($"Panel '{p.Title}' has no points.", nameof(panels));
            if (p.Y.Length != p.X.Length) throw new ArgumentException($"Panel '{p.Title}' has {p.X.Length} x values but {p.Y.Length} y values.", nameof(panels));
            if (p.Labels.Length != 0 && p.Labels.Length != p.X.Length) throw new ArgumentException($"Panel '{p.Title}' has {p.Labels.Length} labels for {p.X.Length} points.", nameof(panels));
            for (int i = 0; i < p.X.Length; i++)
                if (!float.IsFinite(p.X[i]) || !float.IsFinite(p.Y[i]))
                    throw new ArgumentException($"Point {i} of panel '{p.Title}' is ({p.X[i]}, {p.Y[i]}); coordinates must be finite numbers.", nameof(panels));
        }
        float minX = panels.Min(p => p.X.Min()), maxX = panels.Max(p => p.X.Max());
        float minY = panels.Min(p => p.Y.Min()), maxY = panels.Max(p => p.Y.Max());
        int[] distinct = panels.SelectMany(p => p.Labels).Distinct().Order().ToArray();
        string[] legend = distinct.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        string xLabel = options.XLabel ?? "z1", yLabel = options.YLabel ?? "z2";
        var opt = options;
        return new Figure(options.Width, options.Height, options.Title, s =>
        {
            double top = string.IsNullOrEmpty(opt.Title) ? 0 : s.TextHeight(FontRole.Title) + 16;
            if (!string.IsNullOrEmpty(opt.Title))
                s.Text(s.Width / 2.0, 8 + s.TextHeight(FontRole.Title) / 2, opt.Title, FontRole.Title, TextAnchor.Middle, PlotFrame.TextColor, cssClass: "title");
            double legendWidth = legend.Length > 0 ? PlotFrame.LegendSize(s, legend).Width + 12 : 0;
            double panelWidth = (s.Width - legendWidth) / panels.Count;
            for (int k = 0; k < panels.Count; k++)
            {
                var panel = panels[k];
                bool last = k == panels.Count - 1;
                var ps = new PanelSurface(s, Math.Floor(k * panelWidth), Math.Floor(top), (int)Math.Floor(panelWidth + (last ? legendWidth : 0)), (int)Math.Floor(s.Height - top));
                s.BeginGroup("panel");
                var frame = PlotFrame.Layout(ps, panel.Title, xLabel, yLabel, Axis.Linear(minX, maxX), Axis.Linear(minY, maxY), last ? legendWidth : 0);
                frame.DrawBackground(ps);
                ps.BeginGroup("points");
                for (int i = 0; i < panel.X.Length; i++)
                    ps.Circle(frame.MapX(panel.X[i]), frame.MapY(panel.Y[i]), opt.PointRadius,
                        PlotColors.ForLabel(panel.Labels.Length == 0 ? 0 : panel.Labels[i]), opt.PointOpacity, "point");
                ps.EndGroup();
                frame.DrawAxes(ps, panel.Title, xLabel, yLabel);
                if (last && legend.Length > 0)
                    PlotFrame.DrawLegend(ps, frame.Right + 12, frame.Top, legend,
                        (i, cx, cy) => ps.Circle(cx, cy, 5, PlotColors.ForLabel(distinct[i]), 1, "legend-swatch"));
                s.EndGroup();
            }
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
