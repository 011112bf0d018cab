using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Measure-VaeLatent: per latent dimension, the mean KL, the variance of the posterior mean, and whether it is active.</summary>
[Cmdlet(VerbsDiagnostic.Measure, "VaeLatent", HelpUri = HelpUri)]
[OutputType(typeof(LatentDimension))]
public sealed class MeasureVaeLatentCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(VaeModel))]
    public VaeModel? Model { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? Data { get; set; }

    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public double Threshold { get; set; } = 0.01;

    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public double KlThreshold { get; set; } = 0.1;

    [Parameter]
    public ulong Seed { get; set; }

    protected override void ProcessRecord() => Run(() =>
        new LatentLogic(new LatentParameters { Threshold = Threshold, KlThreshold = KlThreshold, Seed = IsBound(nameof(Seed)) ? Seed : null }).Process(this, Model, Data, StopToken));
}
