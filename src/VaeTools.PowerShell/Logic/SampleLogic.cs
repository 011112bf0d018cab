using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Imaging;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of New-VaeSample.</summary>
public sealed class SampleParameters
{
    public int Count { get; set; } = 64;
    public double Temperature { get; set; } = 1;
    /// <summary>Null: a fresh seed (reported in the verbose stream).</summary>
    public ulong? Seed { get; set; }
    /// <summary>Draw the pixels from p(x | z) instead of showing the decoder's mean image (prior and posterior samples; grids and interpolations are always means).</summary>
    public bool SamplePixels { get; set; }
    /// <summary>The decoder's mean image: the default; kept for scripts written when sampled pixels were the default.</summary>
    public bool MeanImage { get; set; }
    /// <summary>Posterior samples: for each image of this data set, its original and <see cref="Count"/> decodes of z ~ q(z | x).</summary>
    public IDataset? PosteriorOf { get; set; }
    public bool AsTensor { get; set; }
    /// <summary>Resolved path of a PNG grid to write, or null.</summary>
    public string? OutFile { get; set; }
    /// <summary>Tiles per row of the PNG; null: 10 for samples, the grid side, or the number of steps.</summary>
    public int? Columns { get; set; }
    /// <summary>With -OutFile: emit the images too (otherwise nothing is emitted).</summary>
    public bool PassThru { get; set; }
    /// <summary>With -OutFile: a heading over the grid.</summary>
    public string? Title { get; set; }
    /// <summary>With -OutFile: black digits on white instead of white on black.</summary>
    public bool Invert { get; set; }

    /// <summary>Points per side of a manifold grid over a 2-D latent space; null: no grid.</summary>
    public int? Grid { get; set; }
    /// <summary>Grid range xmin, xmax, ymin, ymax.</summary>
    public double[]? Range { get; set; }
    /// <summary>Grid: span the range of these images' encodings. Interpolation: the data set integer -From / -To index.</summary>
    public IDataset? Data { get; set; }
    /// <summary>Grid over standard-normal quantiles (the default when neither -Range nor -Data is given).</summary>
    public bool Quantile { get; set; }
    /// <summary>Start of an interpolation: an <see cref="ImageRecord"/>, a <see cref="LatentCode"/> or a row number of <see cref="Data"/>.</summary>
    public object? From { get; set; }
    /// <summary>End of an interpolation (as <see cref="From"/>).</summary>
    public object? To { get; set; }
    /// <summary>Images of an interpolation, both ends included.</summary>
    public int Steps { get; set; } = 10;
    /// <summary>Codes to decode (-Latent, e.g. piped from Get-VaeEncoding -AsTensor): their reconstructions, one image per row.</summary>
    public LatentInput? Latent { get; set; }
}

/// <summary>
/// New-VaeSample: images decoded from latent codes, emitted as image objects or a tensor and/or tiled into a PNG.
/// The codes are prior draws at a temperature (default), draws from the posterior q(z | x) of given images
/// (-PosteriorOf), a side x side grid over a 2-D latent space (-Grid), or the straight line between two images'
/// codes (-From/-To). Images are the decoder's mean (as the PyTorch example and the course seeds show them) unless
/// -SamplePixels draws them from p(x | z).
/// </summary>
public sealed class SampleLogic
{
    private readonly SampleParameters _p;
    private object? _torchImages; // -AsTensor on a Torch model: the images the module decoded (a TorchSharp tensor)

    public SampleLogic(SampleParameters parameters) => _p = parameters;

    /// <summary>-AsTensor on a Torch model: the images are decoded by the Torch module and leave as a TorchSharp tensor on its device.</summary>
    private static bool TorchTensors(VaeModel model, SampleParameters p) => p.AsTensor && model.Engine == EngineLogic.Torch;

    /// <summary>
    /// Decodes codes with the engine the output comes from: the Torch module for -AsTensor on a Torch model (its tensor is
    /// kept for the output, and a managed copy returned for pictures), else the model's managed weights.
    /// </summary>
    private Tensor Decode(VaeModel model, Tensor z, bool samplePixels, RandomSource random)
    {
        if (!TorchTensors(model, _p)) return model.Decode(z, samplePixels, random);
        _torchImages = TorchBridge.Decode(model, z, samplePixels, random);
        return TorchBridge.ToManaged(_torchImages);
    }

    public void Process(ICommandSink sink, VaeModel? model)
    {
        if (model is null)
        {
            sink.WriteError(new CommandError("MissingModel", ErrorKind.InvalidArgument, null, new ArgumentException("-Model is required.", "Model")));
            return;
        }
        if (_p.SamplePixels && _p.MeanImage)
        {
            sink.WriteError(new CommandError("AmbiguousPixels", ErrorKind.InvalidArgument, null,
                new ArgumentException("Give -SamplePixels (pixels drawn from p(x | z)) or -MeanImage (the decoder's mean, the default), not both.", "SamplePixels")));
            return;
        }
        ulong seed = _p.Seed ?? (ulong)Random.Shared.NextInt64();
        var random = new RandomSource(seed);
        int[]? labels = null;
        Tensor images;   // [N x D]
        int columns;
        string what;
        try
        {
            if (_p.Latent is LatentInput codes)
            {
                images = LatentImages(sink, model, codes, random);
                columns = _p.Columns ?? 10;
                what = $"the images of {codes.Description}";
                labels = null;
            }
            else if (_p.From is not null || _p.To is not null)
            {
                images = Interpolation(model, random);
                columns = _p.Columns ?? _p.Steps;
                what = $"an interpolation in {_p.Steps} steps";
            }
            else if (_p.PosteriorOf is IDataset posterior)
            {
                (images, labels) = PosteriorSamples(sink, model, posterior, random);
                columns = _p.Columns ?? _p.Count + 1;
                what = $"{_p.Count} posterior samples of each of {posterior.Count} images";
            }
            else if (_p.Grid is int side)
            {
                images = GridImages(sink, model, side, random);
                columns = _p.Columns ?? side;
                what = $"a {side} x {side} latent grid";
            }
            else
            {
                sink.WriteVerbose($"Sampling {_p.Count} images at temperature {_p.Temperature} with seed {seed}.");
                images = Decode(model, model.SamplePrior(_p.Count, (float)_p.Temperature, random), _p.SamplePixels, random);
                columns = _p.Columns ?? 10;
                what = $"{_p.Count} samples";
            }
        }
        catch (CommandException e)
        {
            sink.WriteError(e.Error);
            return;
        }
        catch (ArgumentException e)
        {
            sink.WriteError(Errors.From(e, "InvalidSampleParameters", model));
            return;
        }

        var shape = ImageRecord.ShapeFor(model.Config.InputDim, model.Config.GetImageShape());
        int h = shape.Height, w = shape.Width;
        if (_p.OutFile is string path)
        {
            if (sink.ShouldProcess(path, $"Write a PNG grid of {what}"))
            {
                try
                {
                    PngEncoder.WriteFile(path, GridPicture.Tiles(images, h, w, new GridStyle
                    {
                        Columns = columns,
                        Heading = string.IsNullOrEmpty(_p.Title) ? null : _p.Title,
                        Invert = _p.Invert,
                        Channels = shape.Channels,
                    }));
                    sink.WriteVerbose($"Wrote '{path}'.");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    sink.WriteError(Errors.From(e, "SampleImageWriteFailed", path));
                    return;
                }
            }
            if (!_p.PassThru) return;
        }

        if (_p.AsTensor)
        {
            // A TorchSharp tensor made outside every dispose scope: the caller owns it (.Dispose(), or the GC's finaliser).
            sink.WriteObject(_torchImages ?? (labels is null ? images : WithoutOriginals(images, _p.Count + 1)));
            return;
        }
        if (_p.Latent?.Codes is LatentCode[] fromCodes)
        {
            // Reconstructions of code objects keep the index and label of the image each code came from.
            for (int i = 0; i < images.Rows; i++)
                sink.WriteObject(new ImageRecord(fromCodes[i].Index, fromCodes[i].Label, images.Row(i).ToArray(), h, w, shape.Channels));
            return;
        }
        if (labels is not null)
        {
            // Posterior samples: the originals (first of each row of the picture) are not emitted; each sample
            // carries the row number and label of the image it was drawn for.
            int perImage = _p.Count + 1;
            for (int i = 0; i < images.Rows; i++)
                if (i % perImage != 0)
                    sink.WriteObject(new ImageRecord(i / perImage, labels[i / perImage] >= 0 ? labels[i / perImage] : null, images.Row(i).ToArray(), h, w, shape.Channels));
            return;
        }
        for (int i = 0; i < images.Rows; i++)
            sink.WriteObject(new ImageRecord(i, null, images.Row(i).ToArray(), h, w, shape.Channels));
    }

    /// <summary>The rows of <paramref name="images"/> that are not the first of each group of <paramref name="perImage"/>.</summary>
    private static Tensor WithoutOriginals(Tensor images, int perImage)
    {
        int groups = images.Rows / perImage, d = images.Cols;
        var samples = new Tensor(groups * (perImage - 1), d);
        for (int g = 0; g < groups; g++)
            images.Span.Slice((g * perImage + 1) * d, (perImage - 1) * d).CopyTo(samples.Span.Slice(g * (perImage - 1) * d));
        return samples;
    }

    /// <summary>
    /// For each image of <paramref name="data"/>: the image itself, then <see cref="SampleParameters.Count"/> decodes of
    /// z ~ q(z | x) = N(mu(x), sigma^2(x)). Rows [(N (Count + 1)) x D], image by image; and the images' labels.
    /// </summary>
    private (Tensor Images, int[] Labels) PosteriorSamples(ICommandSink sink, VaeModel model, IDataset data, RandomSource random)
    {
        CheckCanEncode(model, data, "PosteriorOf");
        if (data.Count == 0)
            throw Fail("EmptyData", ErrorKind.InvalidArgument, data, new ArgumentException($"-PosteriorOf {data.Description} has no images.", "PosteriorOf"));
        int n = data.Count, k = _p.Count, d = model.Config.InputDim, p = model.Config.LatentDim;
        sink.WriteVerbose($"Drawing {k} codes from the posterior of each of {n} images ({data.Description}).");
        var originals = new Tensor(n, d);
        data.CopyRows(Enumerable.Range(0, n).ToArray(), originals.Span, random);
        var encoding = model.Encode(new TensorDataset(originals));
        // Row i * k + s is sample s of image i: each image's mu and log sigma^2 k times, then the model's own z = mu + sigma eps.
        var z = model.SampleLatent(new LatentEncoding(RepeatEachRow(encoding.Mean, k), RepeatEachRow(encoding.LogVariance, k)), random);
        var decoded = Decode(model, z, _p.SamplePixels, random);
        var images = new Tensor(n * (k + 1), d);
        for (int i = 0; i < n; i++)
        {
            originals.Row(i).CopyTo(images.Span.Slice(i * (k + 1) * d, d));
            decoded.Span.Slice(i * k * d, k * d).CopyTo(images.Span.Slice((i * (k + 1) + 1) * d, k * d));
        }
        return (images, Enumerable.Range(0, n).Select(data.GetLabel).ToArray());
    }

    /// <summary>Each row of <paramref name="t"/> <paramref name="times"/> times in a row: [N x C] -> [(N times) x C].</summary>
    private static Tensor RepeatEachRow(Tensor t, int times)
    {
        var result = new Tensor(t.Rows * times, t.Cols);
        for (int i = 0; i < t.Rows; i++)
            for (int s = 0; s < times; s++)
                t.Row(i).CopyTo(result.Span.Slice((i * times + s) * t.Cols, t.Cols));
        return result;
    }

    /// <summary>Decoder means of the grid's codes, row-major from the top-left (z1 left to right, z2 top to bottom).</summary>
    private Tensor GridImages(ICommandSink sink, VaeModel model, int side, RandomSource random)
    {
        if (model.Config.LatentDim != 2)
            throw Fail("GridNeedsTwoDimensions", ErrorKind.InvalidArgument, model,
                new ArgumentException($"-Grid needs a 2-D latent space, but the model ({model.Config}) has {model.Config.LatentDim} latent dimensions. Create the model with New-Vae -LatentDim 2.", "Grid"));
        int sources = (_p.Range is null ? 0 : 1) + (_p.Data is null ? 0 : 1) + (_p.Quantile ? 1 : 0);
        if (sources > 1)
            throw Fail("AmbiguousGridRange", ErrorKind.InvalidArgument, (object?)_p.Range ?? _p.Data,
                new ArgumentException("Give at most one of -Range, -Data and -Quantile: each sets the grid's range.", "Range"));
        Tensor z;
        if (_p.Range is double[] r)
        {
            if (r.Length != 4)
                throw Fail("InvalidGridRange", ErrorKind.InvalidArgument, r,
                    new ArgumentException($"-Range takes four numbers xmin, xmax, ymin, ymax; got {r.Length}.", "Range"));
            z = LatentAnalysis.Grid2D(side, r[0], r[1], r[2], r[3]);
        }
        else if (_p.Data is IDataset data)
        {
            CheckCanEncode(model, data, "Data", tip: "; for a grid, -Range and -Quantile need no encoder");
            var mean = model.Encode(data, random: random).Mean; // [N x 2]
            float x0 = float.MaxValue, x1 = float.MinValue, y0 = float.MaxValue, y1 = float.MinValue;
            for (int i = 0; i < mean.Rows; i++)
            {
                x0 = Math.Min(x0, mean[i, 0]); x1 = Math.Max(x1, mean[i, 0]);
                y0 = Math.Min(y0, mean[i, 1]); y1 = Math.Max(y1, mean[i, 1]);
            }
            sink.WriteVerbose(FormattableString.Invariant($"Grid over the encodings of {data.Description}: z1 in [{x0:0.###}, {x1:0.###}], z2 in [{y0:0.###}, {y1:0.###}]."));
            if (!(x1 > x0) || !(y1 > y0))
                throw Fail("InvalidGridRange", ErrorKind.InvalidArgument, data,
                    new ArgumentException($"The encodings of {data.Description} span no area (z1 in [{x0}, {x1}], z2 in [{y0}, {y1}]), so they give no grid range. Use -Range or -Quantile.", "Data"));
            z = LatentAnalysis.Grid2D(side, x0, x1, y0, y1);
        }
        else
        {
            z = LatentAnalysis.QuantileGrid2D(side);
        }
        return Decode(model, z, false, random);
    }

    /// <summary>Decoder means along the line from the code of -From to that of -To, both ends included.</summary>
    private Tensor Interpolation(VaeModel model, RandomSource random)
    {
        if (_p.From is null || _p.To is null)
            throw Fail("MissingInterpolationEnd", ErrorKind.InvalidArgument, null,
                new ArgumentException("An interpolation needs both -From and -To.", _p.From is null ? "From" : "To"));
        var z1 = CodeOf(model, _p.From, "From", random);
        var z2 = CodeOf(model, _p.To, "To", random);
        return Decode(model, LatentAnalysis.Interpolate(z1, z2, _p.Steps), false, random);
    }

    /// <summary>
    /// The images of given codes (-Latent): with -AsTensor on a Torch model the module decodes a TorchSharp tensor where it
    /// is (it must be on the model's device); otherwise the codes are read as a managed tensor and decoded by the weights.
    /// </summary>
    private Tensor LatentImages(ICommandSink sink, VaeModel model, LatentInput codes, RandomSource random)
    {
        TensorInput.CheckCodes(codes, model, "Latent");
        sink.WriteVerbose($"Decoding {codes.Rows} codes ({codes.Description}){(TorchTensors(model, _p) ? $" on the Torch engine ({model.Device})" : "")}.");
        if (TorchTensors(model, _p) && codes.Torch is not null)
        {
            _torchImages = TorchBridge.Decode(model, codes.Torch, _p.SamplePixels, random);
            return TorchBridge.ToManaged(_torchImages);
        }
        return Decode(model, TensorInput.ManagedCodes(codes), _p.SamplePixels, random);
    }

    /// <summary>The latent code of an interpolation end: a LatentCode's Z, or the posterior mean of an image or data row.</summary>
    private float[] CodeOf(VaeModel model, object end, string parameter, RandomSource random)
    {
        switch (end)
        {
            case LatentCode code:
                Preconditions.RequireLatentWidth(model, code, parameter);
                return code.Z;
            case ImageRecord image:
                var x = new Tensor(1, image.Pixels.Length, (float[])image.Pixels.Clone());
                var one = new TensorDataset(x, null, $"image {image.Index}");
                CheckCanEncode(model, one, parameter);
                return model.Encode(one).Mean.Row(0).ToArray();
            case int or long or short or byte or uint or ulong or ushort or sbyte:
                long index = Convert.ToInt64(end);
                if (_p.Data is not IDataset data)
                    throw Fail("MissingData", ErrorKind.InvalidArgument, end,
                        new ArgumentException($"-{parameter} {index} is a row number, which needs -Data: the data set it indexes.", parameter));
                if (index < 0 || index >= data.Count)
                    throw Fail("IndexOutOfRange", ErrorKind.InvalidArgument, end,
                        new ArgumentOutOfRangeException(parameter, index, $"-{parameter} {index} is outside {data.Description}, whose rows are 0..{data.Count - 1}."));
                CheckCanEncode(model, data, "Data");
                return model.Encode(new RowSubset(data, new[] { (int)index }), random: random).Mean.Row(0).ToArray();
            default:
                throw Fail("UnsupportedInterpolationEnd", ErrorKind.InvalidArgument, end,
                    new ArgumentException($"-{parameter} is a {end.GetType().FullName}; expected an image object (Get-MnistData -AsImage), a code (Get-VaeEncoding) or a row number of -Data.", parameter));
        }
    }

    /// <summary>The model can encode the images of <paramref name="data"/>, given as -<paramref name="parameter"/> (the caller's entry point writes the error).</summary>
    private static void CheckCanEncode(VaeModel model, IDataset data, string parameter, string tip = "")
    {
        Preconditions.RequireEncoder(model, $"it cannot encode -{parameter} to place it in the latent space{tip}");
        Preconditions.RequireInputWidth(model, data, parameter);
    }

    private static CommandException Fail(string id, ErrorKind kind, object? target, Exception e) => new(new CommandError(id, kind, target, e));
}
