using System.Management.Automation;
using VaeTools.Data;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Get-VaeToyData: the spec's 2-D Gaussian toy data set (axis-aligned or rotated) as one data set object.</summary>
[Cmdlet(VerbsCommon.Get, "VaeToyData", HelpUri = HelpUri)]
[OutputType(typeof(TensorDataset))]
public sealed class GetVaeToyDataCommand : VaeCmdlet
{
    [Parameter(Position = 0)]
    [ValidateRange(1, 10000000)]
    public int Count { get; set; } = 5000;

    [Parameter]
    public SwitchParameter Rotated { get; set; }

    [Parameter]
    public ulong Seed { get; set; }

    [Parameter]
    [ValidateSet("All", "Train", "Test")]
    public string Subset { get; set; } = "All";

    protected override void ProcessRecord() => Run(() => ToyDataLogic.Process(this, new ToyDataParameters
    {
        Count = Count,
        Rotated = Rotated,
        Seed = IsBound(nameof(Seed)) ? Seed : null,
        Subset = Subset,
    }));
}
