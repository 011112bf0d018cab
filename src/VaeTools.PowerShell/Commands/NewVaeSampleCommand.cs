using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>
/// New-VaeSample: images decoded from prior samples (default), from a grid over a 2-D latent space (-Grid) or
/// along the line between two images' codes (-From/-To); as objects, one tensor, or a PNG grid (-OutFile).
/// </summary>
[Cmdlet(VerbsCommon.New, "VaeSample", SupportsShouldProcess = true, DefaultParameterSetName = PriorSet, HelpUri = HelpUri)]
[OutputType(typeof(ImageRecord), typeof(Tensor))]
[OutputType(TensorInput.TorchTensorTypeName)] // -AsTensor on a Torch model; named, so that the type (and TorchSharp) is not loaded
public sealed class NewVaeSampleCommand : VaeCmdlet
{
    /// <summary>Posterior samples per image when -Count is not given.</summary>
    public const int DefaultPosteriorSamples = 10;

    private const string PriorSet = "Prior", GridSet = "Grid", InterpolationSet = "Interpolation", PosteriorSet = "Posterior", LatentSet = "Latent";

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(VaeModel))]
    public VaeModel? Model { get; set; }

    [Parameter(Position = 0, ParameterSetName = PriorSet)]
    [Parameter(Position = 0, ParameterSetName = PosteriorSet)]
    [ValidateRange(1, 1000000)]
    public int Count { get; set; } = 64;

    [Parameter(ParameterSetName = PriorSet)]
    [ValidateRange(1e-6, 1000.0)]
    public double Temperature { get; set; } = 1.0;

    [Parameter(ParameterSetName = PriorSet)]
    [Parameter(ParameterSetName = PosteriorSet)]
    [Parameter(ParameterSetName = LatentSet)]
    public SwitchParameter MeanImage { get; set; }

    [Parameter(ParameterSetName = PriorSet)]
    [Parameter(ParameterSetName = PosteriorSet)]
    [Parameter(ParameterSetName = LatentSet)]
    public SwitchParameter SamplePixels { get; set; }

    /// <summary>
    /// Codes to decode, [N x P]: a tensor of Get-VaeEncoding -AsTensor (a TorchSharp tensor or the managed engine's), or
    /// code objects of Get-VaeEncoding; bound from the pipeline. Its images are the reconstructions of the encoded images.
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = LatentSet)]
    [DeserializedVaeObject(typeof(LatentInput), Tensors = nameof(Latent))]
    public LatentInput? Latent { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = PosteriorSet)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? PosteriorOf { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = GridSet)]
    [ValidateRange(2, 200)]
    public int Grid { get; set; } = 20;

    [Parameter(ParameterSetName = GridSet)]
    [ValidateCount(4, 4)]
    public double[]? Range { get; set; }

    [Parameter(ParameterSetName = GridSet)]
    public SwitchParameter Quantile { get; set; }

    [Parameter(ParameterSetName = GridSet)]
    [Parameter(ParameterSetName = InterpolationSet)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? Data { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = InterpolationSet)]
    public object? From { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = InterpolationSet)]
    public object? To { get; set; }

    [Parameter(ParameterSetName = InterpolationSet)]
    [ValidateRange(2, 1000)]
    public int Steps { get; set; } = 10;

    [Parameter]
    public ulong Seed { get; set; }

    [Parameter]
    public SwitchParameter AsTensor { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutFile { get; set; }

    [Parameter]
    [ValidateRange(1, 1000)]
    public int Columns { get; set; } = 10;

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    [Parameter]
    public string? Title { get; set; }

    [Parameter]
    public SwitchParameter Invert { get; set; }

    protected override void ProcessRecord() => Run(() => new SampleLogic(new SampleParameters
    {
        Count = ParameterSetName == PosteriorSet && !IsBound(nameof(Count)) ? DefaultPosteriorSamples : Count,
        Temperature = Temperature,
        Seed = IsBound(nameof(Seed)) ? Seed : null,
        MeanImage = MeanImage,
        SamplePixels = SamplePixels,
        PosteriorOf = PosteriorOf,
        AsTensor = AsTensor,
        OutFile = OutFile is null ? null : ResolveOutputPath(OutFile, false, nameof(OutFile)),
        Columns = IsBound(nameof(Columns)) ? Columns : null,
        PassThru = PassThru,
        Title = Title,
        Invert = Invert,
        Grid = ParameterSetName == GridSet ? Grid : null,
        Range = Range,
        Quantile = Quantile,
        Data = Data,
        From = Unwrap(From),
        To = Unwrap(To),
        Steps = Steps,
        Latent = ParameterSetName == LatentSet ? Latent : null,
    }).Process(this, Model));

    /// <summary>
    /// The object behind a PSObject wrapper (how PowerShell may pass values to an [object] parameter); a deserialized
    /// image or code (from Start-Job or Import-Clixml) is rebuilt.
    /// </summary>
    private static object? Unwrap(object? value)
    {
        value = VaeSerialization.Restore(value);
        return value is PSObject ps ? ps.BaseObject : value;
    }
}
