using System.Management.Automation;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>New-VaeSample: images decoded from prior samples, as objects, one tensor, or a PNG grid (-OutFile).</summary>
[Cmdlet(VerbsCommon.New, "VaeSample", SupportsShouldProcess = true)]
[OutputType(typeof(ImageRecord), typeof(Tensor))]
public sealed class NewVaeSampleCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public VaeModel? Model { get; set; }

    [Parameter(Position = 0)]
    [ValidateRange(1, 1000000)]
    public int Count { get; set; } = 64;

    [Parameter]
    [ValidateRange(1e-6, 1000.0)]
    public double Temperature { get; set; } = 1.0;

    [Parameter]
    public ulong Seed { get; set; }

    [Parameter]
    public SwitchParameter MeanImage { get; set; }

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

    protected override void ProcessRecord() => Run(() => new SampleLogic(new SampleParameters
    {
        Count = Count,
        Temperature = Temperature,
        Seed = IsBound(nameof(Seed)) ? Seed : null,
        MeanImage = MeanImage,
        AsTensor = AsTensor,
        OutFile = OutFile is null ? null : ResolvePath(OutFile),
        Columns = Columns,
        PassThru = PassThru,
    }).Process(this, Model));
}
