using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>New-PpcaModel: probabilistic PCA fitted in closed form to a data set, emitted as a model the other cmdlets take.</summary>
[Cmdlet(VerbsCommon.New, "PpcaModel", HelpUri = HelpUri)]
[OutputType(typeof(VaeModel))]
public sealed class NewPpcaModelCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? Data { get; set; }

    [Parameter(Position = 0)]
    [ValidateRange(1, 4096)]
    public int LatentDim { get; set; } = 2;

    [Parameter]
    public ulong Seed { get; set; }

    protected override void ProcessRecord() => Run(() =>
        PpcaLogic.Process(this, new PpcaParameters { LatentDim = LatentDim, Seed = IsBound(nameof(Seed)) ? Seed : null }, Data, StopToken));
}
