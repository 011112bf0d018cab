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
    /// <summary>Emit the decoder's mean image instead of pixels drawn from p(x | z).</summary>
    public bool MeanImage { get; set; }
    public bool AsTensor { get; set; }
    /// <summary>Resolved path of a PNG grid to write, or null.</summary>
    public string? OutFile { get; set; }
    public int Columns { get; set; } = 10;
    /// <summary>With -OutFile: emit the images too (otherwise nothing is emitted).</summary>
    public bool PassThru { get; set; }
}

/// <summary>New-VaeSample: z ~ prior at a temperature, decoded; emitted as images or a tensor, and/or tiled into a PNG.</summary>
public sealed class SampleLogic
{
    private readonly SampleParameters _p;

    public SampleLogic(SampleParameters parameters) => _p = parameters;

    public void Process(ICommandSink sink, VaeModel? model)
    {
        if (model is null)
        {
            sink.WriteError(new CommandError("MissingModel", ErrorKind.InvalidArgument, null, new ArgumentException("-Model is required.", "Model")));
            return;
        }
        ulong seed = _p.Seed ?? (ulong)Random.Shared.NextInt64();
        sink.WriteVerbose($"Sampling {_p.Count} images at temperature {_p.Temperature} with seed {seed}.");
        Tensor images;
        try
        {
            images = model.Sample(_p.Count, (float)_p.Temperature, new RandomSource(seed), samplePixels: !_p.MeanImage);
        }
        catch (ArgumentException e)
        {
            sink.WriteError(Errors.From(e, "InvalidSampleParameters", model));
            return;
        }

        var (h, w) = ImageRecord.ShapeFor(model.Config.InputDim);
        if (_p.OutFile is string path)
        {
            if (sink.ShouldProcess(path, $"Write a PNG grid of {_p.Count} samples"))
            {
                try
                {
                    PngEncoder.WriteFile(path, ImageGrid.Tile(images, h, w, new GridOptions { Columns = _p.Columns }));
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
            sink.WriteObject(images);
            return;
        }
        for (int i = 0; i < images.Rows; i++)
            sink.WriteObject(new ImageRecord(i, null, images.Row(i).ToArray(), h, w));
    }
}
