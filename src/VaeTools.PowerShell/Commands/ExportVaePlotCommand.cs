using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>
/// Export-VaePlot: writes a picture of a model as SVG or PNG (by the extension of -Path), atomically: the latent
/// scatter, the learning curve, reconstruction error per label, reconstructions, or samples.
/// </summary>
[Cmdlet(VerbsData.Export, "VaePlot", SupportsShouldProcess = true, DefaultParameterSetName = "Path", HelpUri = HelpUri)]
[OutputType(typeof(FileInfo))]
public sealed class ExportVaePlotCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateSet("Latent", "LearningCurve", "ReconstructionError", "Reconstruction", "Samples", "Data")]
    public string Kind { get; set; } = "Latent";

    /// <summary>The picture to write (.svg or .png); wildcards must match exactly one existing file.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = "Path")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The picture to write, taken as it is (no wildcards).</summary>
    [Parameter(Mandatory = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = "";

    [Parameter(ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(VaeModel))]
    public VaeModel? Model { get; set; }

    [Parameter(ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? Data { get; set; }

    [Parameter]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? TrainData { get; set; }

    [Parameter]
    public SwitchParameter SamplePixels { get; set; }

    [Parameter]
    public SwitchParameter ShowLabels { get; set; }

    [Parameter]
    public SwitchParameter Invert { get; set; }

    [Parameter]
    public SwitchParameter PerBatch { get; set; }

    [Parameter]
    [ValidateRange(1, 10000000)]
    public int? Count { get; set; }

    [Parameter]
    [ValidateRange(1, 1000)]
    public int? Columns { get; set; }

    [Parameter]
    [ValidateRange(1e-6, 1000.0)]
    public double Temperature { get; set; } = 1.0;

    [Parameter]
    public ulong Seed { get; set; }

    [Parameter]
    [AllowEmptyString]
    public string? Title { get; set; }

    [Parameter]
    [ValidateRange(200, 10000)]
    public int Width { get; set; } = 800;

    [Parameter]
    [ValidateRange(150, 10000)]
    public int Height { get; set; } = 600;

    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() => Run(() => new PlotLogic(new PlotParameters
    {
        Kind = Kind,
        Path = ParameterSetName == "LiteralPath" ? ResolveOutputPath(LiteralPath, true, nameof(LiteralPath)) : ResolveOutputPath(Path, false, nameof(Path)),
        Data = Data,
        TrainData = TrainData,
        SamplePixels = SamplePixels,
        ShowLabels = ShowLabels,
        Invert = Invert,
        PerBatch = PerBatch,
        Count = Count,
        Columns = Columns,
        Temperature = Temperature,
        Seed = IsBound(nameof(Seed)) ? Seed : null,
        Title = Title,
        Width = Width,
        Height = Height,
        NoClobber = NoClobber,
        PassThru = PassThru,
    }).Process(this, Model, StopToken));
}
