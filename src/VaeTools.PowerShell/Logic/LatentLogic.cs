using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Measure-VaeLatent.</summary>
public sealed class LatentParameters
{
    /// <summary>A unit is active when the variance over images of its posterior mean exceeds this (Burda et al.: 0.01).</summary>
    public double Threshold { get; set; } = LatentAnalysis.ActiveThreshold;
    /// <summary>... and it carries at least this many nats (0: the variance rule alone).</summary>
    public double KlThreshold { get; set; } = LatentAnalysis.ActiveKlThreshold;
    /// <summary>Seed for Bernoulli-sampled data; null: a fresh seed.</summary>
    public ulong? Seed { get; set; }
    /// <summary>Images encoded per step (progress and Ctrl+C are checked between steps).</summary>
    public int ChunkSize { get; set; } = 1000;
}

/// <summary>
/// Measure-VaeLatent: encodes the data in chunks and emits one <see cref="LatentDimension"/> per latent dimension
/// (<see cref="LatentAnalysis.Usage(LatentEncoding, double, double)"/>): its mean KL to N(0, 1), the variance of its
/// posterior mean over the images, and whether it is active. Ctrl+C emits nothing.
/// </summary>
public sealed class LatentLogic
{
    private readonly LatentParameters _p;

    public LatentLogic(LatentParameters parameters) => _p = parameters;

    public void Process(ICommandSink sink, VaeModel? model, IDataset? data, CancellationToken cancellation)
    {
        if (model is null || data is null)
        {
            string missing = model is null ? "Model" : "Data";
            sink.WriteError(new CommandError($"Missing{missing}", ErrorKind.InvalidArgument, model ?? (object?)data,
                new ArgumentException($"Measure-VaeLatent needs a model and data; -{missing} was not given.", missing)));
            return;
        }
        try
        {
            Preconditions.RequireEncoder(model, "there is no posterior q(z|x) whose use of the latent dimensions could be measured");
            Preconditions.RequireInputWidth(model, data, "Data");
        }
        catch (CommandException e) { sink.WriteError(e.Error); return; } // this piped model or data set only
        if (model.Config.Prior != Prior.StandardNormal)
            sink.WriteWarning($"The model's prior is {model.Config.Prior}: Kl is measured against N(0, 1), not against the model's prior.");

        int n = data.Count, p = model.Config.LatentDim, chunk = Math.Max(1, _p.ChunkSize);
        var mean = new Tensor(n, p);      // [N x P]
        var logVar = new Tensor(n, p);    // [N x P]
        var random = new RandomSource(_p.Seed ?? (ulong)Random.Shared.NextInt64());
        string activity = $"Encoding {data.Description}";
        try
        {
            for (int start = 0; start < n; start += chunk)
            {
                if (cancellation.IsCancellationRequested) return;
                int count = Math.Min(chunk, n - start);
                var enc = model.Encode(RowSubset.Range(data, start, count), batchSize: chunk, random: random);
                enc.Mean.Span.CopyTo(mean.Span.Slice(start * p, count * p));
                enc.LogVariance.Span.CopyTo(logVar.Span.Slice(start * p, count * p));
                sink.WriteProgress(new ProgressReport(1, activity, $"{start + count} of {n} images", 100 * (start + count) / n));
            }
        }
        finally { sink.WriteProgress(new ProgressReport(1, activity, "Done", 100, Completed: true)); }

        var usage = LatentAnalysis.Usage(new LatentEncoding(mean, logVar), _p.Threshold, _p.KlThreshold);
        sink.WriteVerbose(FormattableString.Invariant($"{usage.ActiveUnits} of {p} latent dimensions are active (posterior-mean variance > {_p.Threshold} and KL >= {_p.KlThreshold} nats); total KL {usage.TotalKl:0.###} nats."));
        for (int d = 0; d < p; d++)
            sink.WriteObject(new LatentDimension
            {
                Dimension = d + 1,
                Kl = usage.KlPerDimension[d],
                MeanVariance = usage.MeanVariance[d],
                Active = usage.IsActive(d),
                Threshold = _p.Threshold,
                KlThreshold = _p.KlThreshold,
            });
    }
}
