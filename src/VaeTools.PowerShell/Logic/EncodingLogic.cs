using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Get-VaeEncoding.</summary>
public sealed class EncodingParameters
{
    /// <summary>Emit one [N x P] tensor per data set (or for all piped images) instead of one object per image.</summary>
    public bool AsTensor { get; set; }
    /// <summary>Draw z = mu + sigma eps instead of using the mean.</summary>
    public bool Sample { get; set; }
    /// <summary>Seed of the z draws (and of Bernoulli-sampled data); null: a fresh seed.</summary>
    public ulong? Seed { get; set; }
    /// <summary>Images encoded per forward pass (of a data set, or of an array of images given at once); objects leave after each chunk.</summary>
    public int ChunkSize { get; set; } = 1000;
}

/// <summary>
/// Get-VaeEncoding: encodes data sets (in chunks, emitting as it goes) or piped <see cref="ImageRecord"/>s (each
/// input's codes emitted before the next input is read).
/// </summary>
public sealed class EncodingLogic
{
    private readonly VaeModel _model;
    private readonly EncodingParameters _p;
    private readonly RandomSource _random;
    private readonly List<float[]> _tensorRows = new(); // -AsTensor with images: all codes, emitted at the end
    private readonly List<float[]> _pixelRows = new();  // -AsTensor with images on a Torch model: the pixels, encoded at the end by the module

    /// <summary>-AsTensor on a Torch model: the codes are computed by the Torch module and leave as a TorchSharp tensor on its device.</summary>
    private bool TorchTensors => _p.AsTensor && _model.Engine == EngineLogic.Torch;

    public EncodingLogic(VaeModel model, EncodingParameters parameters)
    {
        _model = model;
        _p = parameters;
        _random = new RandomSource(parameters.Seed ?? (ulong)Random.Shared.NextInt64());
    }

    /// <summary>Checks the model can encode at all; a terminating <see cref="CommandException"/> otherwise.</summary>
    public void Begin(ICommandSink sink)
    {
        if (_model is null)
            throw new CommandException(new CommandError("MissingModel", ErrorKind.InvalidArgument, null, new ArgumentException("-Model is required.", "Model")));
        Preconditions.RequireEncoder(_model, "it cannot encode images"); // -Model serves the whole call: terminating
    }

    /// <summary>Encodes every image of <paramref name="data"/>.</summary>
    public void ProcessData(ICommandSink sink, IDataset data, CancellationToken cancellation)
    {
        if (!WidthMatches(sink, data.Features, data, "Data", data.Description)) return;
        if (TorchTensors)
        {
            EncodeOnTorch(sink, data, cancellation);
            return;
        }
        Tensor? all = _p.AsTensor ? new Tensor(data.Count, _model.Config.LatentDim) : null;
        int chunk = Math.Max(1, _p.ChunkSize);
        for (int start = 0; start < data.Count; start += chunk)
        {
            if (cancellation.IsCancellationRequested) return;
            int count = Math.Min(chunk, data.Count - start);
            sink.WriteDebug($"Encoding rows {start}..{start + count - 1} of {data.Description} in one pass ({count} x {data.Features} into {count} x {_model.Config.LatentDim}).");
            var view = RowSubset.Range(data, start, count);
            var (enc, z) = Encode(view);
            if (all is not null)
            {
                z.Span.CopyTo(all.Span.Slice(start * z.Cols, z.Length));
            }
            else
            {
                for (int i = 0; i < count; i++)
                {
                    int label = data.GetLabel(start + i);
                    sink.WriteObject(Code(start + i, label < 0 ? null : label, enc, z, i));
                }
            }
            sink.WriteProgress(new ProgressReport(1, $"Encoding {data.Description}", $"{start + count} of {data.Count} images", 100 * (start + count) / data.Count));
        }
        sink.WriteProgress(new ProgressReport(1, $"Encoding {data.Description}", "Done", 100, Completed: true));
        if (all is not null) sink.WriteObject(all);
    }

    /// <summary>
    /// Encodes the images of one pipeline input (one image, or an array bound at once) and emits their codes before
    /// returning, so each code leaves before the next input is read (-PipelineVariable pairs it with its image). The
    /// images of one input are encoded as one batch, in chunks of <see cref="EncodingParameters.ChunkSize"/>.
    /// With -AsTensor the codes are kept for the one tensor <see cref="End"/> emits.
    /// </summary>
    public void ProcessImages(ICommandSink sink, IReadOnlyList<ImageRecord> images)
    {
        var batch = new List<ImageRecord>(images.Count);
        foreach (var image in images)
        {
            if (image is null) continue;
            if (WidthMatches(sink, image.Pixels.Length, image, "Image", $"image {image.Index}")) batch.Add(image);
        }
        int chunk = Math.Max(1, _p.ChunkSize);
        if (batch.Count > 1) sink.WriteDebug($"Encoding {batch.Count} images given at once in passes of up to {chunk}.");
        for (int start = 0; start < batch.Count; start += chunk)
            Encode(sink, batch.GetRange(start, Math.Min(chunk, batch.Count - start)));
    }

    /// <summary>Takes one piped image and emits its code at once.</summary>
    public void ProcessImage(ICommandSink sink, ImageRecord image) => ProcessImages(sink, new[] { image });

    /// <summary>With -AsTensor, emits the one tensor of all piped images.</summary>
    public void End(ICommandSink sink)
    {
        if (TorchTensors && _pixelRows.Count > 0)
        {
            var x = new Tensor(_pixelRows.Count, _model.Config.InputDim);
            for (int i = 0; i < _pixelRows.Count; i++) _pixelRows[i].CopyTo(x.Row(i));
            EncodeOnTorch(sink, new TensorDataset(x, labels: null, $"{_pixelRows.Count} piped images"), CancellationToken.None);
            return;
        }
        if (_p.AsTensor && _tensorRows.Count > 0)
        {
            int p = _model.Config.LatentDim;
            var t = new Tensor(_tensorRows.Count, p);
            for (int i = 0; i < _tensorRows.Count; i++) _tensorRows[i].CopyTo(t.Row(i));
            sink.WriteObject(t);
        }
    }

    private void Encode(ICommandSink sink, List<ImageRecord> images)
    {
        if (images.Count == 0) return;
        if (TorchTensors)
        {
            foreach (var image in images) _pixelRows.Add(image.Pixels);
            return;
        }
        int d = _model.Config.InputDim;
        var x = new Tensor(images.Count, d);
        for (int i = 0; i < images.Count; i++) images[i].Pixels.CopyTo(x.Row(i));
        var (enc, z) = Encode(new TensorDataset(x, labels: null, images.Count == 1 ? $"image {images[0].Index}" : $"{images.Count} piped images"));
        for (int i = 0; i < images.Count; i++)
        {
            if (_p.AsTensor) _tensorRows.Add(z.Row(i).ToArray());
            else sink.WriteObject(Code(images[i].Index, images[i].Label, enc, z, i));
        }
    }

    /// <summary>
    /// The codes of <paramref name="data"/> from the Torch module, emitted as one TorchSharp tensor [N x P] on the model's
    /// device. It is made outside every dispose scope: the caller owns it (.Dispose() frees its native memory at once, else
    /// the GC's finaliser does).
    /// </summary>
    private void EncodeOnTorch(ICommandSink sink, IDataset data, CancellationToken cancellation)
    {
        if (cancellation.IsCancellationRequested) return;
        string activity = $"Encoding {data.Description}";
        sink.WriteDebug($"Encoding {data.Count} x {data.Features} on the Torch engine ({_model.Device}) into one tensor of {data.Count} x {_model.Config.LatentDim}.");
        sink.WriteProgress(new ProgressReport(1, activity, $"{data.Count} images on the Torch engine", 0));
        var codes = TorchBridge.Encode(_model, data, _p.Sample, _random, Math.Max(1, _p.ChunkSize));
        sink.WriteProgress(new ProgressReport(1, activity, "Done", 100, Completed: true));
        sink.WriteObject(codes);
    }

    private (LatentEncoding Encoding, Tensor Z) Encode(IDataset data)
    {
        var enc = _model.Encode(data, batchSize: Math.Max(1, _p.ChunkSize), random: _random);
        var z = _p.Sample ? _model.SampleLatent(enc, _random) : enc.Mean;
        return (enc, z);
    }

    private static LatentCode Code(int index, int? label, LatentEncoding enc, Tensor z, int row) =>
        new(index, label, enc.Mean.Row(row).ToArray(), enc.LogVariance.Row(row).ToArray(), z.Row(row).ToArray());

    private bool WidthMatches(ICommandSink sink, int width, object target, string parameter, string description)
    {
        try { Preconditions.RequireInputWidth(_model, width, target, parameter, description); return true; }
        catch (CommandException e) { sink.WriteError(e.Error); return false; } // this piped item only
    }
}
