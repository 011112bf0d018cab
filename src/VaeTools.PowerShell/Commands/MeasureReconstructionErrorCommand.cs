using System.Management.Automation;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>
/// Measure-ReconstructionError: squared error, cross-entropy, KL and ELBO of a model on data (or per class) and, with
/// -ImportanceSamples K, the importance-sampled log-likelihood with its standard error.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "ReconstructionError", DefaultParameterSetName = ModelSet, HelpUri = HelpUri)]
[OutputType(typeof(ReconstructionMetrics))]
public sealed class MeasureReconstructionErrorCommand : VaeCmdlet
{
    private const string ModelSet = "Model", MeanImageSet = "MeanImage";

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ModelSet)]
    [DeserializedVaeObject(typeof(VaeModel))]
    public VaeModel? Model { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(IDataset), Tensors = nameof(Data))] // an image tensor [N x D] becomes a data set
    public IDataset? Data { get; set; }

    /// <summary>The baseline instead of a model: every image predicted by this data set's mean image.</summary>
    [Parameter(Mandatory = true, ParameterSetName = MeanImageSet)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? MeanImageOf { get; set; }

    [Parameter]
    public SwitchParameter ByClass { get; set; }

    [Parameter]
    public ulong Seed { get; set; }

    [Parameter(ParameterSetName = ModelSet)]
    [ValidateRange(1, 5000)]
    public int? ImportanceSamples { get; set; }

    protected override void ProcessRecord() => Run(() =>
        new MeasureLogic(new MeasureParameters
        {
            ByClass = ByClass,
            Seed = Seed,
            ImportanceSamples = ImportanceSamples,
            MeanImageOf = MeanImageOf,
        }).Process(this, Model, Data, StopToken));
}
