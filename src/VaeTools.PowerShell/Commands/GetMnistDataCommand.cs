using System.Management.Automation;
using VaeTools.Data;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Get-MnistData: loads MNIST or Fashion-MNIST as one data set object, or with -AsImage one object per image.</summary>
[Cmdlet(VerbsCommon.Get, "MnistData", HelpUri = HelpUri)]
[OutputType(typeof(MnistDataset), typeof(ImageRecord))]
public sealed class GetMnistDataCommand : DataSetCmdlet
{
    [Parameter]
    [ValidateSet("None", "Threshold", "Sample")]
    public string Binarize { get; set; } = "None";

    [Parameter]
    [ValidateSet("Digits", "Fashion")]
    public string Variant { get; set; } = "Digits";

    [Parameter]
    public ulong Seed { get; set; }

    protected override void ProcessRecord() => Run(() => new GetMnistDataLogic(new GetMnistDataParameters
    {
        Subset = Subset,
        Variant = Variant,
        Path = Path is null ? null : ResolveOutputPath(Path, false, nameof(Path)),
        Classes = Classes,
        Count = Count,
        Binarize = Binarize,
        NoDownload = NoDownload,
        AsImage = AsImage,
        Seed = IsBound(nameof(Seed)) ? Seed : null,
    }).Process(this, StopToken));
}
