using System.Xml.Linq;
using VaeTools.Engine;
using VaeTools.Imaging;

namespace VaeTools.Tests.Imaging;

public class PlotTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static XDocument Parse(Figure figure) => XDocument.Parse(figure.ToSvg());

    private static IEnumerable<XElement> WithClass(XDocument doc, string cssClass) =>
        doc.Descendants().Where(e => (string?)e.Attribute("class") == cssClass);

    private static (float[] X, float[] Y, int[] Labels) Clusters(int n, int seed)
    {
        var rng = new RandomSource((ulong)seed);
        var x = new float[n];
        var y = new float[n];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = rng.NextInt(10);
            x[i] = labels[i] + (float)rng.NextGaussian() * 0.3f;
            y[i] = -labels[i] * 2 + (float)rng.NextGaussian() * 0.3f;
        }
        return (x, y, labels);
    }

    [Fact]
    public void Scatter_svg_has_one_point_element_per_point_and_one_legend_entry_per_label()
    {
        var (x, y, labels) = Clusters(500, 1);
        labels[0] = 13; // a label beyond 9 reuses colour 3
        var doc = Parse(LatentScatterPlot.Create(x, y, labels, new PlotOptions { Title = "latent" }));

        Assert.Equal(Svg + "svg", doc.Root!.Name);
        Assert.Equal("0 0 800 600", (string?)doc.Root.Attribute("viewBox"));
        var points = WithClass(doc, "point").ToList();
        Assert.Equal(500, points.Count);
        Assert.All(points, p => Assert.Equal(Svg + "circle", p.Name));
        int distinct = labels.Distinct().Count();
        var entries = WithClass(doc, "legend-entry").ToList();
        Assert.Equal(distinct, entries.Count);
        // Legend texts are the sorted labels; point colours are tab10[label mod 10].
        Assert.Equal(labels.Distinct().Order().Select(l => l.ToString()), entries.Select(e => e.Element(Svg + "text")!.Value));
        Assert.Equal(PlotColors.Tab10[labels[1] % 10], (string?)points[1].Attribute("fill"));
        Assert.Equal(PlotColors.Tab10[3], (string?)points[0].Attribute("fill"));
        Assert.Equal("latent", WithClass(doc, "title").Single().Value);
        Assert.Equal(new[] { "z1", "z2" }, WithClass(doc, "axis-label").Select(e => e.Value));
    }

    [Fact]
    public void Scatter_points_land_inside_the_frame_at_increasing_positions()
    {
        float[] x = [0, 1, 2], y = [0, 1, 2];
        var doc = Parse(LatentScatterPlot.Create(x, y, [], null));
        var frame = WithClass(doc, "frame").Single();
        double fx = (double)frame.Attribute("x")!, fy = (double)frame.Attribute("y")!;
        double fw = (double)frame.Attribute("width")!, fh = (double)frame.Attribute("height")!;
        var pts = WithClass(doc, "point").Select(p => ((double)p.Attribute("cx")!, (double)p.Attribute("cy")!)).ToList();
        Assert.All(pts, p => Assert.InRange(p.Item1, fx, fx + fw));
        Assert.All(pts, p => Assert.InRange(p.Item2, fy, fy + fh));
        Assert.True(pts[0].Item1 < pts[1].Item1 && pts[1].Item1 < pts[2].Item1);
        Assert.True(pts[0].Item2 > pts[1].Item2 && pts[1].Item2 > pts[2].Item2); // y grows upwards
        Assert.Empty(WithClass(doc, "legend-entry")); // no labels, no legend
    }

    [Fact]
    public void Scatter_from_tensor_takes_the_two_columns()
    {
        var z = new Tensor(3, 2);
        z[2, 0] = 5;
        var doc = Parse(LatentScatterPlot.Create(z, [0, 1, 1]));
        Assert.Equal(3, WithClass(doc, "point").Count());
        Assert.Equal(2, WithClass(doc, "legend-entry").Count());
        Assert.Throws<ShapeMismatchException>(() => LatentScatterPlot.Create(new Tensor(3, 3), []));
    }

    [Fact]
    public void Scatter_errors()
    {
        float[] x = [0, 1, 2], y = [0, 1];
        var e = Assert.Throws<ArgumentException>(() => LatentScatterPlot.Create(x, y, []));
        Assert.Contains("same length", e.Message);
        e = Assert.Throws<ArgumentException>(() => LatentScatterPlot.Create(x, [0, 1, 2], [1, 2]));
        Assert.Contains("labels", e.Message);
        e = Assert.Throws<ArgumentException>(() => LatentScatterPlot.Create([0, float.NaN, 2], [0, 1, 2], []));
        Assert.Contains("Point 1", e.Message);
        Assert.Throws<ArgumentException>(() => LatentScatterPlot.Create([], [], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentScatterPlot.Create(x, x, [], new PlotOptions { Width = 10 }));
    }

    [Fact]
    public void Learning_curve_has_one_marker_per_epoch_and_series()
    {
        double[] train = [180, 150, 130, 120, 115, 112, 110];
        double[] test = [170, 148, 133, 125, 121, 119, 118];
        var doc = Parse(LearningCurvePlot.Create(train, test, new PlotOptions { Title = "ELBO" }));
        Assert.Equal(14, WithClass(doc, "marker").Count());
        Assert.Equal(2, WithClass(doc, "line").Count());
        Assert.Equal(new[] { "train", "test" }, WithClass(doc, "legend-entry").Select(e => e.Element(Svg + "text")!.Value));
        Assert.Equal(new[] { "epoch", "loss" }, WithClass(doc, "axis-label").Select(e => e.Value));
        // x ticks are whole epochs.
        var xTicks = WithClass(doc, "tick-label").Select(t => t.Value).ToList();
        Assert.Contains("1", xTicks);
        Assert.Contains("7", xTicks);
    }

    [Fact]
    public void Learning_curve_without_test_loss_and_with_gaps()
    {
        var doc = Parse(LearningCurvePlot.Create([3, 2, 1], ReadOnlySpan<double>.Empty));
        Assert.Equal(3, WithClass(doc, "marker").Count());
        Assert.Single(WithClass(doc, "legend-entry"));

        // NaN = not measured: no marker there; the line joins the measured values (4 points).
        var gaps = Parse(LearningCurvePlot.Create([new LineSeries("kl", [5, 4, double.NaN, 3, 2])]));
        Assert.Equal(4, WithClass(gaps, "marker").Count());
        string points = (string)WithClass(gaps, "line").Single().Attribute("points")!;
        Assert.Equal(4, points.Split(' ').Length);
    }

    [Fact]
    public void Long_learning_curves_have_no_markers()
    {
        double[] train = Enumerable.Range(0, LearningCurvePlot.MaxMarkedEpochs + 1).Select(i => 100.0 / (i + 1)).ToArray();
        var doc = Parse(LearningCurvePlot.Create(train, ReadOnlySpan<double>.Empty));
        Assert.Empty(WithClass(doc, "marker"));
        Assert.Single(WithClass(doc, "line"));
    }

    [Fact]
    public void Sparse_series_in_a_long_run_keeps_its_markers()
    {
        double[] train = Enumerable.Range(0, 200).Select(i => 100.0 / (i + 1)).ToArray();
        double[] test = train.Select((v, i) => i % 10 == 9 ? v + 1 : double.NaN).ToArray();
        var doc = Parse(LearningCurvePlot.Create(train, test));
        Assert.Equal(20, WithClass(doc, "marker").Count()); // only the 20 test values; train has too many
        Assert.Equal(2, WithClass(doc, "line").Count());
    }

    [Fact]
    public void Learning_curve_errors()
    {
        Assert.Throws<ArgumentException>(() => LearningCurvePlot.Create(ReadOnlySpan<double>.Empty, ReadOnlySpan<double>.Empty));
        var e = Assert.Throws<ArgumentException>(() => LearningCurvePlot.Create([1, double.PositiveInfinity], ReadOnlySpan<double>.Empty));
        Assert.Contains("epoch 2", e.Message);
        Assert.Throws<ArgumentException>(() => LearningCurvePlot.Create([double.NaN], ReadOnlySpan<double>.Empty));
    }

    [Fact]
    public void Bar_chart_has_bars_error_bars_and_legend()
    {
        string[] digits = Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray();
        double[] mean = [90, 40, 80, 75, 70, 78, 72, 60, 85, 70];
        double[] std = [10, 5, 12, 11, 9, 12, 10, 8, 12, 9];
        var doc = Parse(BarChart.Create(digits, mean, std, new PlotOptions { YLabel = "BCE" }, legend: "mean ± std"));
        var bars = WithClass(doc, "bar").ToList();
        Assert.Equal(10, bars.Count);
        Assert.Equal(10, WithClass(doc, "error-bar").Count(e => e.Parent?.Attribute("class")?.Value != "legend-entry"));
        Assert.Equal("mean ± std", WithClass(doc, "legend-entry").Single().Element(Svg + "text")!.Value);
        // Taller value, taller bar; all bars share a baseline.
        var heights = bars.Select(b => (double)b.Attribute("height")!).ToList();
        Assert.True(heights[0] > heights[1]);
        Assert.Equal(heights[0] / 90, heights[1] / 40, 3);
        var bottoms = bars.Select(b => Math.Round((double)b.Attribute("y")! + (double)b.Attribute("height")!, 1)).Distinct();
        Assert.Single(bottoms);
        // Category names label the x ticks.
        Assert.Equal(digits, WithClass(doc, "tick-label").Take(10).Select(t => t.Value));
    }

    [Fact]
    public void Bar_chart_errors()
    {
        string[] cats = ["a", "b"];
        var e = Assert.Throws<ArgumentException>(() => BarChart.Create(cats, [1, 2, 3], []));
        Assert.Contains("one value per category", e.Message);
        e = Assert.Throws<ArgumentException>(() => BarChart.Create(cats, [1, 2], [1]));
        Assert.Contains("errors", e.Message);
        e = Assert.Throws<ArgumentException>(() => BarChart.Create(cats, [1, double.NaN], []));
        Assert.Contains("'b'", e.Message);
        Assert.Throws<ArgumentException>(() => BarChart.Create(cats, [1, 2], [1, -1]));
    }

    [Fact]
    public void Text_is_escaped_and_the_svg_stays_well_formed()
    {
        var doc = Parse(LearningCurvePlot.Create([1, 2], ReadOnlySpan<double>.Empty,
            new PlotOptions { Title = "a < b & \"c\"", XLabel = "<epoch>" }));
        Assert.Equal("a < b & \"c\"", WithClass(doc, "title").Single().Value);
        Assert.Equal("a < b & \"c\"", doc.Root!.Element(Svg + "title")!.Value);
        Assert.Equal("<epoch>", WithClass(doc, "axis-label").First().Value);
    }

    [Fact]
    public void Png_rendering_has_the_size_and_the_legend_colours()
    {
        var (x, y, labels) = Clusters(300, 2);
        var figure = LatentScatterPlot.Create(x, y, labels, new PlotOptions { Width = 640, Height = 480, Title = "z" });
        using var memory = new MemoryStream();
        figure.WritePng(memory);
        PixelImage image = PngDecoder.Decode(memory.ToArray());
        Assert.Equal(640, image.Width);
        Assert.Equal(480, image.Height);
        Assert.Equal(PixelFormat.Rgb24, image.Format);
        var colours = new HashSet<string>();
        for (int i = 0; i < image.Pixels.Length; i += 3)
            colours.Add($"#{image.Pixels[i]:x2}{image.Pixels[i + 1]:x2}{image.Pixels[i + 2]:x2}");
        // Each label's legend swatch is drawn opaque, so its exact tab10 colour is in the picture.
        foreach (int label in labels.Distinct())
            Assert.Contains(PlotColors.Tab10[label], colours);
        Assert.Contains("#ffffff", colours);
    }

    [Fact]
    public void Save_writes_both_formats_atomically()
    {
        string dir = Directory.CreateTempSubdirectory("vaetools-plot-").FullName;
        try
        {
            var figure = BarChart.Create(["x", "y"], [1, 2], [0.1, 0.2]);
            figure.SaveSvg(Path.Combine(dir, "b.svg"));
            figure.SavePng(Path.Combine(dir, "b.png"));
            Assert.Equal(2, WithClass(XDocument.Load(Path.Combine(dir, "b.svg")), "bar").Count());
            Assert.Equal(figure.Width, PngDecoder.ReadFile(Path.Combine(dir, "b.png")).Width);
            Assert.Equal(2, Directory.GetFiles(dir).Length); // no temporary files left behind
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData(0.3, 0.2)]      // 3 < sqrt(10): rounds down to 2
    [InlineData(0.4, 0.5)]
    [InlineData(17, 20)]
    [InlineData(1.2, 1)]
    [InlineData(8, 10)]
    [InlineData(0.0012, 0.001)]
    [InlineData(4500, 5000)]
    public void Tick_steps_are_one_two_five(double raw, double expected)
    {
        Assert.Equal(expected, NiceTicks.Step(raw), 9);
    }

    [Fact]
    public void Ticks_are_multiples_of_the_step_inside_the_range_and_formatted_cleanly()
    {
        double[] ticks = NiceTicks.Ticks(-0.25, 1.05, 0.1);
        Assert.Equal(13, ticks.Length); // -0.2 .. 1.0
        Assert.Equal(new[] { "-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3" }, ticks.Take(6).Select(t => NiceTicks.Format(t, 0.1)));
        Assert.Equal("1.0", NiceTicks.Format(ticks[^1], 0.1));
        Assert.Equal("250", NiceTicks.Format(250, 50));
        Assert.Equal("0.05", NiceTicks.Format(0.05, 0.05));

        var axis = Axis.Linear(97.3, 181.2);
        Assert.InRange(axis.Ticks.Length, 3, 10);
        Assert.All(axis.Ticks, t => Assert.InRange(t, axis.Min, axis.Max));
        double step = axis.Ticks[1] - axis.Ticks[0];
        double mantissa = step / Math.Pow(10, Math.Floor(Math.Log10(step)));
        Assert.Contains(Math.Round(mantissa, 6), new[] { 1.0, 2.0, 5.0 });
    }

    [Fact]
    public void All_equal_values_still_give_an_axis()
    {
        var axis = Axis.Linear(5, 5);
        Assert.True(axis.Max > axis.Min);
        Assert.Contains(5.0, axis.Ticks);
        var doc = Parse(LatentScatterPlot.Create([1, 1], [2, 2], []));
        Assert.Equal(2, WithClass(doc, "point").Count());
    }
}
