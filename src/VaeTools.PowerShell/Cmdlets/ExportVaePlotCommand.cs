using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>
/// Export-VaePlot: writes a picture of a model as SVG or PNG (by the extension of -Path), atomically: the latent
/// scatter, the learning curve, reconstruction error per label, reconstructions, or samples.
/// </summary>
[Cmdlet(VerbsData.Export, "VaePlot", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportVaePlotCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateSet("Latent", "LearningCurve", "ReconstructionError", "Reconstruction", "Samples", "Data")]
    public string Kind { get; set; } = "Latent";

    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter(ValueFromPipeline = true)]
    public VaeModel? Model { get; set; }

    [Parameter(ValueFromPipeline = true)]
    public IDataset? Data { get; set; }

    [Parameter]
    public IDataset? TrainData { get; set; }

    [Parameter]
    public SwitchParameter SamplePixels { get; set; }

    [Parameter]
    public SwitchParameter ShowLabels { get; set; }

    [Parameter]
    public SwitchParameter Invert { get; set; }

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
        Path = ResolvePath(Path),
        Data = Data,
        TrainData = TrainData,
        SamplePixels = SamplePixels,
        ShowLabels = ShowLabels,
        Invert = Invert,
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
