using System.Management.Automation;
using VaeTools.Data;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Get-Cifar10Data: loads CIFAR-10 (binary version) as one data set object, or with -AsImage one object per image.</summary>
[Cmdlet(VerbsCommon.Get, "Cifar10Data")]
[OutputType(typeof(Cifar10Dataset), typeof(ImageRecord))]
public sealed class GetCifar10DataCommand : VaeCmdlet
{
    [Parameter(Position = 0)]
    [ValidateSet("Train", "Test")]
    public string Subset { get; set; } = "Train";

    [Parameter]
    [ValidateCount(1, 10)]
    [ValidateRange(0, 9)]
    public int[]? Classes { get; set; }

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Count { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    [Parameter]
    public SwitchParameter NoDownload { get; set; }

    [Parameter]
    public SwitchParameter AsImage { get; set; }

    protected override void ProcessRecord() => Run(() => new GetCifar10DataLogic(new GetCifar10DataParameters
    {
        Subset = Subset,
        Path = Path is null ? null : ResolvePath(Path),
        Classes = Classes,
        Count = Count,
        NoDownload = NoDownload,
        AsImage = AsImage,
    }).Process(this, StopToken));
}
