using System.Management.Automation;
using VaeTools.Data;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Get-Cifar10Data: loads CIFAR-10 (binary version) as one data set object, or with -AsImage one object per image.</summary>
[Cmdlet(VerbsCommon.Get, "Cifar10Data", HelpUri = HelpUri)]
[OutputType(typeof(Cifar10Dataset), typeof(ImageRecord))]
public sealed class GetCifar10DataCommand : DataSetCmdlet
{
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
