using System.Globalization;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Imaging;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>What Export-VaePlot draws.</summary>
public enum PlotKind
{
    /// <summary>Latent means of -Data as a scatter plot coloured by label (z1, z2); with -TrainData, train and test side by side.</summary>
    Latent,
    /// <summary>Training and validation loss per epoch from the model's history.</summary>
    LearningCurve,
    /// <summary>Mean squared reconstruction error per label, with +- one standard deviation error bars.</summary>
    ReconstructionError,
    /// <summary>Images of -Data above their reconstructions.</summary>
    Reconstruction,
    /// <summary>Decoder means of prior samples (pixels drawn from p(x | z) with -SamplePixels), tiled as New-VaeSample -OutFile tiles them.</summary>
    Samples,
    /// <summary>The images of -Data themselves, tiled (no model needed).</summary>
    Data,
}

/// <summary>Parameters of Export-VaePlot.</summary>
public sealed class PlotParameters
{
    public string Kind { get; set; } = nameof(PlotKind.Latent);
    /// <summary>Resolved file-system path; its extension (.svg or .png) chooses the format.</summary>
    public string Path { get; set; } = "";
    public IDataset? Data { get; set; }
    /// <summary>Latent: the training images, drawn in a panel left of -Data's.</summary>
    public IDataset? TrainData { get; set; }
    /// <summary>Samples: draw the pixels from p(x | z) instead of showing the decoder's mean.</summary>
    public bool SamplePixels { get; set; }
    /// <summary>Reconstruction and Data pictures: "Label: N" over each image (or pair).</summary>
    public bool ShowLabels { get; set; }
    /// <summary>Pictures: black digits on white instead of white on black.</summary>
    public bool Invert { get; set; }
    /// <summary>LearningCurve: the per-batch records (Invoke-VaeTraining -LogInterval) by step, with the test loss at each epoch's end.</summary>
    public bool PerBatch { get; set; }
    /// <summary>Latent: at most this many points (the first rows); Reconstruction: pairs (default 20); Samples: images (default 100).</summary>
    public int? Count { get; set; }
    /// <summary>Tiles per row of Reconstruction and Samples pictures (default 10).</summary>
    public int? Columns { get; set; }
    public double Temperature { get; set; } = 1;
    /// <summary>Seed of prior samples and Bernoulli-sampled data; null: a fresh seed.</summary>
    public ulong? Seed { get; set; }
    /// <summary>Null: a title that says what is shown; "" for none.</summary>
    public string? Title { get; set; }
    public int Width { get; set; } = 800;
    public int Height { get; set; } = 600;
    public bool NoClobber { get; set; }
    public bool PassThru { get; set; }
}

/// <summary>
/// Export-VaePlot: draws one picture of a model (and data) and writes it atomically as SVG or PNG, chosen by the
/// file extension. Plots are vector SVG or rendered PNG; image tiles are PNG, or an SVG holding that PNG.
/// Inputs are checked before -WhatIf is asked, the work is done after it.
/// </summary>
public sealed class PlotLogic
{
    public const int DefaultReconstructions = 20, DefaultSamples = 100, DefaultDataImages = 100;

    private readonly PlotParameters _p;

    public PlotLogic(PlotParameters parameters) => _p = parameters;

    public void Process(ICommandSink sink, VaeModel? model, CancellationToken cancellation)
    {
        try
        {
            var kind = EnumParameter.Parse<PlotKind>(_p.Kind, nameof(_p.Kind));
            bool svg = FormatOf(_p.Path);
            Check(kind, model);
            if (_p.NoClobber && File.Exists(_p.Path))
                throw Fail("PlotFileExists", ErrorKind.ResourceExists, _p.Path,
                    new IOException($"'{_p.Path}' already exists and -NoClobber was given. Remove -NoClobber to overwrite it."));
            if (!sink.ShouldProcess(_p.Path, $"Write a {kind} plot of {(kind == PlotKind.Data ? _p.Data!.Description : model)} as {(svg ? "SVG" : "PNG")}")) return;

            var random = new RandomSource(_p.Seed ?? (ulong)Random.Shared.NextInt64());
            Action<Stream>? write = kind switch
            {
                PlotKind.Latent => Figure(Latent(sink, model!, random), svg),
                PlotKind.LearningCurve => Figure(LearningCurve(model!), svg),
                PlotKind.ReconstructionError => ReconstructionError(sink, model!, random, cancellation) is { } f ? Figure(f, svg) : null,
                PlotKind.Reconstruction => Picture(ReconstructionPicture(model!, random), svg),
                PlotKind.Data => Picture(DataPicture(random), svg),
                _ => Picture(SamplesPicture(model!, random), svg),
            };
            if (write is null) return; // stopped
            VaeTools.IO.AtomicFile.Write(_p.Path, write);
            sink.WriteVerbose($"Wrote '{_p.Path}'.");
            if (_p.PassThru) sink.WriteObject(new FileInfo(_p.Path));
        }
        catch (CommandException e) { sink.WriteError(e.Error); }
        catch (OperationCanceledException) { }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            sink.WriteError(Errors.From(e, e is DirectoryNotFoundException ? "PlotFolderNotFound" : "PlotWriteFailed", _p.Path));
        }
        catch (ArgumentException e) { sink.WriteError(Errors.From(e, "InvalidPlotParameters", model)); }
    }

    /// <summary>True for .svg, false for .png; anything else is an InvalidArgument error.</summary>
    public static bool FormatOf(string path)
    {
        string ext = System.IO.Path.GetExtension(path);
        if (ext.Equals(".svg", StringComparison.OrdinalIgnoreCase)) return true;
        if (ext.Equals(".png", StringComparison.OrdinalIgnoreCase)) return false;
        throw Fail("UnsupportedPlotFormat", ErrorKind.InvalidArgument, path,
            new ArgumentException($"-Path '{path}' ends in '{ext}'; the format comes from the extension, which must be .svg or .png.", "Path"));
    }

    /// <summary>What each kind needs: data, an encoder, a history, a latent space of at least 2 dimensions.</summary>
    private void Check(PlotKind kind, VaeModel? model)
    {
        if (kind == PlotKind.Data)
        {
            if (_p.Data is null)
                throw Fail("MissingData", ErrorKind.InvalidArgument, null,
                    new ArgumentException("-Kind Data draws the images of -Data (or of the data set piped in); none was given.", "Data"));
            if (_p.Data.Count == 0)
                throw Fail("EmptyData", ErrorKind.InvalidArgument, _p.Data, new ArgumentException($"{_p.Data.Description} has no images to draw.", "Data"));
            return;
        }
        if (model is null)
            throw Fail("MissingModel", ErrorKind.InvalidArgument, _p.Data,
                new ArgumentException($"-Kind {kind} draws a model: give -Model or pipe one in (only -Kind Data draws data alone).", "Model"));
        if (_p.TrainData is not null && kind != PlotKind.Latent)
            throw Fail("TrainDataNotUsed", ErrorKind.InvalidArgument, _p.TrainData,
                new ArgumentException($"-TrainData is for -Kind Latent (train and test side by side); -Kind {kind} does not use it.", "TrainData"));
        if (_p.TrainData is { } train) Preconditions.RequireInputWidth(model, train, "TrainData");
        bool needsData = kind is PlotKind.Latent or PlotKind.ReconstructionError or PlotKind.Reconstruction;
        if (needsData && _p.Data is null)
            throw Fail("MissingData", ErrorKind.InvalidArgument, model,
                new ArgumentException($"-Kind {kind} needs -Data: the images to encode.", "Data"));
        if (needsData)
        {
            Preconditions.RequireEncoder(model, $"-Kind {kind}, which encodes the images of -Data, cannot draw it");
            Preconditions.RequireInputWidth(model, _p.Data!, "Data");
        }
        if (kind == PlotKind.Latent && model.Config.LatentDim < 2)
            throw Fail("LatentTooSmall", ErrorKind.InvalidArgument, model,
                new ArgumentException($"-Kind Latent plots z1 against z2, but the model ({model.Config}) has a 1-D latent space.", "Kind"));
        if (_p.PerBatch && kind != PlotKind.LearningCurve)
            throw Fail("PerBatchNotUsed", ErrorKind.InvalidArgument, model,
                new ArgumentException($"-PerBatch is for -Kind LearningCurve; -Kind {kind} does not use it.", "PerBatch"));
        if (kind == PlotKind.LearningCurve && _p.PerBatch && model.BatchHistory.Count == 0)
            throw Fail("NoBatchHistory", ErrorKind.InvalidOperation, model,
                new InvalidOperationException($"The model ({model.Config}) has no per-batch records to plot; train it with Invoke-VaeTraining -LogInterval N (a record every N batches) first."));
        if (kind == PlotKind.LearningCurve && model.History.Count == 0)
            throw Fail("ModelNotTrained", ErrorKind.InvalidOperation, model,
                new InvalidOperationException($"The model ({model.Config}) has no training history to plot; train it with Invoke-VaeTraining first."));
    }

    private PlotOptions Options(string title, string? xLabel = null, string? yLabel = null) => new()
    {
        Title = _p.Title is null ? title : _p.Title.Length == 0 ? null : _p.Title,
        XLabel = xLabel,
        YLabel = yLabel,
        Width = _p.Width,
        Height = _p.Height,
    };

    private Figure Latent(ICommandSink sink, VaeModel model, RandomSource random)
    {
        if (model.Config.LatentDim > 2)
            sink.WriteWarning($"The model has {model.Config.LatentDim} latent dimensions; the plot shows the first two (z1, z2).");
        var test = Means(model, _p.Data!, random);
        if (_p.TrainData is null)
            return LatentScatterPlot.Create(test.X, test.Y, test.Labels, Options($"Latent means of {test.X.Length} images", "z1", "z2"));
        var train = Means(model, _p.TrainData, random);
        return LatentScatterPlot.CreatePanels(new[]
        {
            new ScatterPanel($"Train ({train.X.Length})", train.X, train.Y, train.Labels),
            new ScatterPanel($"Test ({test.X.Length})", test.X, test.Y, test.Labels),
        }, Options("Latent means", "z1", "z2"));
    }

    /// <summary>(z1, z2) of the posterior means of the first -Count images of <paramref name="data"/>, and their labels (none when any is missing).</summary>
    private (float[] X, float[] Y, int[] Labels) Means(VaeModel model, IDataset data, RandomSource random)
    {
        IDataset shown = _p.Count is int c && c < data.Count ? RowSubset.Range(data, 0, c) : data;
        var mean = model.Encode(shown, random: random).Mean; // [N x P]
        var x = new float[mean.Rows];
        var y = new float[mean.Rows];
        var labels = new int[mean.Rows];
        bool labelled = true;
        for (int i = 0; i < mean.Rows; i++)
        {
            x[i] = mean[i, 0];
            y[i] = mean[i, 1];
            labels[i] = shown.GetLabel(i);
            labelled &= labels[i] >= 0;
        }
        return (x, y, labelled ? labels : Array.Empty<int>());
    }

    private Figure LearningCurve(VaeModel model)
    {
        if (_p.PerBatch) return BatchCurve(model);
        var train = model.History.Select(r => r.TrainLoss).ToArray();
        var test = model.History.Select(r => r.TestLoss ?? double.NaN).ToArray();
        bool anyTest = test.Any(double.IsFinite);
        return LearningCurvePlot.Create(train, anyTest ? test : Array.Empty<double>(), Options("Loss per epoch", "epoch", "loss (nats per image)"));
    }

    /// <summary>Training loss by step from the per-batch records, and the test loss at the last step of each epoch that has one.</summary>
    private Figure BatchCurve(VaeModel model)
    {
        var records = model.BatchHistory;
        long first = records[0].FirstStep, last = records[^1].Step;
        int length = checked((int)(last - first + 1));
        var train = new double[length];
        var test = new double[length];
        Array.Fill(train, double.NaN);
        Array.Fill(test, double.NaN);
        foreach (var r in records) train[r.Step - first] = r.TrainLoss;
        foreach (var epoch in model.History)
            if (epoch.TestLoss is double t && records.LastOrDefault(r => r.Epoch == epoch.Epoch) is { } end)
                test[end.Step - first] = t;
        var series = new List<LineSeries> { new("train (per batch)", train) };
        if (test.Any(double.IsFinite)) series.Add(new LineSeries("test (per epoch)", test));
        return LearningCurvePlot.Create(series, Options($"Loss per step ({records.Count} records)", first == 1 ? "step" : $"step - {first - 1}", "loss (nats per image)"));
    }

    private Figure? ReconstructionError(ICommandSink sink, VaeModel model, RandomSource random, CancellationToken cancellation)
    {
        var data = _p.Data!;
        string activity = $"Reconstructing {data.Description}";
        double[] errors;
        try
        {
            errors = Reconstructions.SquaredErrors(model, data, random, progress: (done, total) =>
                sink.WriteProgress(new ProgressReport(1, activity, $"{done} of {total} images", 100 * done / total)), cancellation: cancellation);
        }
        catch (OperationCanceledException) { return null; }
        finally { sink.WriteProgress(new ProgressReport(1, activity, "Done", 100, Completed: true)); }

        var groups = Enumerable.Range(0, errors.Length).GroupBy(i => data.GetLabel(i)).OrderBy(g => g.Key).ToList();
        bool labelled = groups.All(g => g.Key >= 0);
        if (!labelled) groups = Enumerable.Range(0, errors.Length).GroupBy(_ => -1).ToList();
        var categories = groups.Select(g => g.Key < 0 ? "all" : g.Key.ToString(CultureInfo.InvariantCulture)).ToList();
        var means = new double[groups.Count];
        var stds = new double[groups.Count];
        for (int k = 0; k < groups.Count; k++)
        {
            var v = groups[k].Select(i => errors[i]).ToArray();
            means[k] = v.Average();
            stds[k] = v.Length > 1 ? Math.Sqrt(v.Sum(e => (e - means[k]) * (e - means[k])) / (v.Length - 1)) : 0;
        }
        return BarChart.Create(categories, means, stds,
            Options($"Reconstruction error of {data.Count} images", labelled ? "label" : "", "squared error per image"), legend: "mean ± std");
    }

    private PixelImage ReconstructionPicture(VaeModel model, RandomSource random)
    {
        var data = _p.Data!;
        int count = Math.Min(_p.Count ?? DefaultReconstructions, data.Count);
        var pairs = Reconstructions.Reconstruct(model, data, Enumerable.Range(0, count).ToArray(), random);
        var shape = ImageRecord.ShapeFor(model.Config.InputDim, model.Config.GetImageShape() ?? data.ImageShape);
        var titles = _p.ShowLabels ? GridPicture.LabelTitles(data, count) : null;
        return GridPicture.Pairs(pairs.Originals, pairs.Reconstructions, shape.Height, shape.Width, Style(titles, shape.Channels));
    }

    /// <summary>How picture kinds draw their grid: -Columns, -Title as the heading, -Invert, and per-cell titles.</summary>
    private GridStyle Style(IReadOnlyList<string?>? titles = null, int channels = 1) => new()
    {
        Channels = channels,
        Columns = _p.Columns ?? 10,
        Heading = string.IsNullOrEmpty(_p.Title) ? null : _p.Title,
        Titles = titles,
        Invert = _p.Invert,
    };

    private PixelImage SamplesPicture(VaeModel model, RandomSource random)
    {
        var images = model.Sample(_p.Count ?? DefaultSamples, (float)_p.Temperature, random, _p.SamplePixels);
        var shape = ImageRecord.ShapeFor(model.Config.InputDim, model.Config.GetImageShape());
        return GridPicture.Tiles(images, shape.Height, shape.Width, Style(null, shape.Channels));
    }

    /// <summary>The first -Count (default 100) images of -Data, tiled -Columns (default 10) to a row.</summary>
    private PixelImage DataPicture(RandomSource random)
    {
        var data = _p.Data!;
        int count = Math.Min(_p.Count ?? DefaultDataImages, data.Count);
        var images = new Tensor(count, data.Features);
        data.CopyRows(Enumerable.Range(0, count).ToArray(), images.Span, random);
        var shape = ImageRecord.ShapeFor(data.Features, data.ImageShape);
        return GridPicture.Tiles(images, shape.Height, shape.Width, Style(_p.ShowLabels ? GridPicture.LabelTitles(data, count) : null, shape.Channels));
    }

    private static Action<Stream> Figure(Figure figure, bool svg) => svg ? figure.WriteSvg : figure.WritePng;

    /// <summary>A pixel picture as PNG, or as an SVG holding the PNG (pixelated, at its own size).</summary>
    private static Action<Stream> Picture(PixelImage image, bool svg)
    {
        byte[] png = PngEncoder.Encode(image);
        if (!svg) return s => s.Write(png);
        string doc = string.Create(CultureInfo.InvariantCulture,
            $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{image.Width}\" height=\"{image.Height}\" viewBox=\"0 0 {image.Width} {image.Height}\">\n" +
            $"  <image width=\"{image.Width}\" height=\"{image.Height}\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{Convert.ToBase64String(png)}\"/>\n</svg>\n");
        var bytes = new System.Text.UTF8Encoding(false).GetBytes(doc);
        return s => s.Write(bytes);
    }

    private static CommandException Fail(string id, ErrorKind kind, object? target, Exception e) => new(new CommandError(id, kind, target, e));
}
