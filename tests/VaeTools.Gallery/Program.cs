// Trains the reference models with the core API and writes the README's pictures (see docs/gallery.md).
// Usage: dotnet run -c Release --project tests/VaeTools.Gallery -- --out docs/images
//        [--epochs N] [--seed S] [--threads T] [--data <mnist dir>]
// Two models, both Bernoulli decoders on grey-level MNIST (pixel / 255), Adam 1e-3, batch 128:
//   reference  784-400-20  -> samples, reconstructions, interpolation, learning curve, error by digit
//   planar     784-512-2   -> latent scatter, manifold
using System.Diagnostics;
using System.Globalization;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Imaging;
using VaeTools.Model;

var options = GalleryOptions.Parse(args);
if (options is null) return 2;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
Directory.CreateDirectory(options.Out);
var total = Stopwatch.StartNew();

var train = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Train, Directory = options.Data });
var test = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = options.Data });
Console.WriteLine($"Data: {train.Description}; {test.Description}");
using var pool = new WorkerPool(options.Threads);

// ---- Reference model 784-400-20 --------------------------------------------------------------------
var reference = Train(new VaeConfig { HiddenDims = [400], LatentDim = 20, Seed = options.Seed }, "reference");
var grid2x = new GridOptions { Columns = 10, Scale = 2, Padding = 2 };

// 1. Samples: decoder means of z ~ N(0, t^2 I), t = 1 and t = 0.5.   [100 x 784] each
SavePng("samples.png", ImageGrid.Tile(reference.Sample(100, 1f, new RandomSource(options.Seed)), 28, 28, grid2x));
SavePng("samples-t05.png", ImageGrid.Tile(reference.Sample(100, 0.5f, new RandomSource(options.Seed)), 28, 28, grid2x));

// 2. Reconstructions: the first 20 test images over decode(mu(x)).
var first20 = Rows(test, Enumerable.Range(0, 20).ToArray());                 // [20 x 784]
var recon20 = reference.Decode(reference.Encode(first20).Mean);             // [20 x 784]
SavePng("reconstructions.png", ImageGrid.TilePairs(first20, recon20, 28, 28, grid2x with { Padding = 6, PairGap = 1 }));

// 3. Interpolation: per row, test digit a, 10 decodes of (1 - s) mu(a) + s mu(b) for s = 0, 1/9, ..., 1, test digit b.
(int A, int B)[] pairs = [(0, 6), (1, 7), (2, 5), (3, 8), (4, 9), (5, 3), (7, 1), (9, 4)];
var firstOf = Enumerable.Range(0, 10).Select(d => Enumerable.Range(0, test.Count).First(i => test.GetLabel(i) == d)).ToArray();
const int steps = 10;
var strip = new Tensor(pairs.Length * (steps + 2), 784);                    // [8*12 x 784]
for (int k = 0; k < pairs.Length; k++)
{
    var ends = Rows(test, [firstOf[pairs[k].A], firstOf[pairs[k].B]]);       // [2 x 784]
    var mu = reference.Encode(ends).Mean;                                   // [2 x 20]
    var path = reference.Decode(LatentAnalysis.Interpolate(mu.Row(0), mu.Row(1), steps)); // [10 x 784]
    int row = k * (steps + 2);
    ends.Row(0).CopyTo(strip.Row(row));
    for (int s = 0; s < steps; s++) path.Row(s).CopyTo(strip.Row(row + 1 + s));
    ends.Row(1).CopyTo(strip.Row(row + steps + 1));
}
SavePng("interpolation.png", ImageGrid.Tile(strip, 28, 28, grid2x with { Columns = steps + 2 }));

// 6. Learning curve of the reference run.
var history = reference.History;
SaveFigure("learning-curve", LearningCurvePlot.Create(
    history.Select(r => r.TrainLoss).ToArray(), history.Select(r => r.TestLoss ?? double.NaN).ToArray(),
    new PlotOptions
    {
        Title = $"784-400-20 VAE, seed {options.Seed}", YLabel = "loss (nats per image)",
        Width = 640, Height = 420,
    }));

// 7. Squared reconstruction error (sum over 784 pixels) per digit, mean +- one standard deviation over the test images of that digit.
var all = reference.Encode(test).Mean;                                     // [10000 x 20]
var decoded = reference.Decode(all);                                       // [10000 x 784]
var testPixels = test.ToTensor();                                          // [10000 x 784]
var errors = Enumerable.Range(0, 10).Select(_ => new List<double>()).ToArray();
for (int i = 0; i < test.Count; i++)
{
    ReadOnlySpan<float> x = testPixels.Row(i), r = decoded.Row(i);
    double se = 0;
    for (int j = 0; j < x.Length; j++) { double d = x[j] - r[j]; se += d * d; }
    errors[test.GetLabel(i)].Add(se);
}
double[] means = errors.Select(e => e.Average()).ToArray();
double[] stds = errors.Select((e, d) => Math.Sqrt(e.Sum(v => (v - means[d]) * (v - means[d])) / (e.Count - 1))).ToArray();
// Cross-check against the library's own per-class measurement (same definition: decode(mu(x))).
var measured = ReconstructionAnalysis.Measure(reference, test, byClass: true, seed: options.Seed);
double worst = measured.Where(m => m.Label is not null).Max(m => Math.Abs(m.MeanSquaredError - means[m.Label!.Value]) / means[m.Label.Value]);
Console.WriteLine($"Squared error per digit (mean ± std): {string.Join("  ", means.Select((m, d) => $"{d}: {m:F1} ± {stds[d]:F1}"))}");
Console.WriteLine($"  overall {measured[0].MeanSquaredError:F2}; largest relative difference to ReconstructionAnalysis.Measure: {worst:E1}");
SaveFigure("error-by-digit", BarChart.Create(
    Enumerable.Range(0, 10).Select(d => d.ToString()).ToArray(), means, stds,
    new PlotOptions
    {
        // No legend: the bars reach every corner, so the legend would go outside and squeeze the plot.
        Title = "Reconstruction error by digit, mean ± 1 std", XLabel = "test digit", YLabel = "squared error per image",
        Width = 640, Height = 420,
    }));

// ---- Planar model 784-512-2 -------------------------------------------------------------------------
var planar = Train(new VaeConfig { HiddenDims = [512], LatentDim = 2, Seed = options.Seed }, "planar");
var codes = planar.Encode(test).Mean;                                      // [10000 x 2]

// 5. Latent scatter of the first 2,000 test images (all 10,000 make a megabyte of SVG and one blob).
const int shown = 2000;
var scatterCodes = new Tensor(shown, 2);
codes.Span[..(shown * 2)].CopyTo(scatterCodes.Span);
SaveFigure("latent", LatentScatterPlot.Create(scatterCodes, Enumerable.Range(0, shown).Select(test.GetLabel).ToArray(),
    new PlotOptions
    {
        Title = $"Test encodings mu(x), 784-512-2 VAE", Width = 640, Height = 560, PointRadius = 2, PointOpacity = 0.6,
    }));

// 4. Manifold: decoder means on a 20 x 20 grid spanning the 1st-99th percentile of the test encodings.
var (x0, x1) = Percentiles(codes, 0);
var (y0, y1) = Percentiles(codes, 1);
Console.WriteLine($"Manifold range: z1 in [{x0:F2}, {x1:F2}], z2 in [{y0:F2}, {y1:F2}]");
SavePng("manifold.png", ImageGrid.Tile(planar.Decode(LatentAnalysis.Grid2D(20, x0, x1, y0, y1)), 28, 28,
    new GridOptions { Columns = 20, Scale = 1, Padding = 0 }));

Console.WriteLine($"Done in {total.Elapsed.TotalSeconds:F0} s.");
return 0;

// ---- helpers ------------------------------------------------------------------------------------------

VaeModel Train(VaeConfig config, string name)
{
    var model = new VaeModel(config) { InferencePool = pool };
    using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = options.Epochs, Seed = options.Seed, Threads = options.Threads });
    Console.WriteLine($"Training {name} model {config} for {options.Epochs} epochs (Adam 1e-3, batch 128, seed {options.Seed}, {options.Threads} threads)");
    trainer.Train(train, test, p =>
    {
        if (p.CompletedEpoch is { } r)
            Console.WriteLine($"  epoch {r.Epoch,2}: train {r.TrainLoss:F2}  test {r.TestLoss:F2}  ({r.Seconds:F1} s + {r.TestSeconds:F1} s)");
    });
    return model;
}

static Tensor Rows(IDataset data, int[] indices)
{
    var t = new Tensor(indices.Length, data.Features);
    data.CopyRows(indices, t.Span, random: null);
    return t;
}

static (double Low, double High) Percentiles(Tensor codes, int column)
{
    var v = Enumerable.Range(0, codes.Rows).Select(i => (double)codes[i, column]).Order().ToArray();
    return (v[(int)(0.01 * (v.Length - 1))], v[(int)(0.99 * (v.Length - 1))]);
}

void SavePng(string file, PixelImage image)
{
    string path = Path.Combine(options.Out, file);
    PngEncoder.WriteFile(path, image);
    Report(path, $"{image.Width} x {image.Height}");
}

void SaveFigure(string stem, Figure figure)
{
    string svg = Path.Combine(options.Out, stem + ".svg"), png = Path.Combine(options.Out, stem + ".png");
    figure.SaveSvg(svg);
    figure.SavePng(png);
    Report(svg, $"{figure.Width} x {figure.Height}");
    Report(png, $"{figure.Width} x {figure.Height}");
}

static void Report(string path, string size) =>
    Console.WriteLine($"Wrote {path} ({size} px, {new FileInfo(path).Length / 1024.0:F1} KB)");

/// <summary>Command-line settings of the gallery.</summary>
sealed record GalleryOptions
{
    public string? Data { get; init; }
    public string Out { get; init; } = Path.Combine("docs", "images");
    public int Epochs { get; init; } = 10;
    public ulong Seed { get; init; } = 1;
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Parses the arguments; prints usage and returns null on a bad or missing value.</summary>
    public static GalleryOptions? Parse(string[] args)
    {
        var o = new GalleryOptions();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                o = args[i] switch
                {
                    "--data" => o with { Data = Value() },
                    "--out" => o with { Out = Value() },
                    "--epochs" => o with { Epochs = Positive("--epochs", Value()) },
                    "--seed" => o with { Seed = ulong.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--threads" => o with { Threads = Positive("--threads", Value()) },
                    "--help" or "-h" => throw new ArgumentException(""),
                    _ => throw new ArgumentException($"Unknown argument '{args[i]}'."),
                };
            }
            return o;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            if (e.Message.Length > 0) Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine("Usage: VaeTools.Gallery [--data <mnist dir>] [--out docs/images] [--epochs 10] [--seed 1] [--threads N]");
            return null;
        }
    }

    private static int Positive(string name, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n : throw new ArgumentException($"{name} must be a positive whole number; got '{text}'.");
}
