using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Measure-ReconstructionError.</summary>
public sealed class MeasureParameters
{
    /// <summary>One result per class instead of one for all images.</summary>
    public bool ByClass { get; set; }
    /// <summary>Seed of the ELBO's z draws.</summary>
    public ulong Seed { get; set; }
}

/// <summary>Measure-ReconstructionError: <see cref="ReconstructionAnalysis.Measure"/> per (model, data) pair.</summary>
public sealed class MeasureLogic
{
    private readonly MeasureParameters _p;

    public MeasureLogic(MeasureParameters parameters) => _p = parameters;

    public void Process(ICommandSink sink, VaeModel? model, IDataset? data, CancellationToken cancellation)
    {
        if (model is null || data is null)
        {
            string missing = model is null ? "Model" : "Data";
            sink.WriteError(new CommandError($"Missing{missing}", ErrorKind.InvalidArgument, model ?? (object?)data,
                new ArgumentException($"Measure-ReconstructionError needs a model and data; -{missing} was not given.", missing)));
            return;
        }
        if (model.Config.DecoderOnly)
        {
            sink.WriteError(new CommandError("DecoderOnlyModel", ErrorKind.InvalidOperation, model,
                new InvalidOperationException($"The model ({model.Config}) is decoder-only: it has no encoder, so its reconstructions cannot be measured.")));
            return;
        }
        if (data.Features != model.Config.InputDim)
        {
            sink.WriteError(new CommandError("WidthMismatch", ErrorKind.InvalidArgument, data,
                new Engine.ShapeMismatchException($"The data ({data.Description}) has images of {data.Features} values, but the model ({model.Config}) takes {model.Config.InputDim}.")));
            return;
        }
        var throttle = new ProgressThrottle(TimeSpan.FromMilliseconds(250));
        string activity = $"Measuring reconstructions of {data.Description}";
        IReadOnlyList<ReconstructionMetrics> results;
        try
        {
            results = ReconstructionAnalysis.Measure(model, data, _p.ByClass, _p.Seed,
                progress: (done, total) => { if (throttle.Ready()) sink.WriteProgress(new ProgressReport(1, activity, $"{done} of {total} images", 100 * done / total)); },
                cancellation: cancellation);
        }
        catch (OperationCanceledException) { return; }
        finally { sink.WriteProgress(new ProgressReport(1, activity, "Done", 100, Completed: true)); }

        foreach (var r in _p.ByClass ? results.Skip(1) : results.Take(1)) sink.WriteObject(r);
    }
}
