using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Measure-ReconstructionError.</summary>
public sealed class MeasureParameters
{
    /// <summary>One result per class instead of one for all images.</summary>
    public bool ByClass { get; set; }
    /// <summary>Seed of the ELBO's z draws (and of the importance samples).</summary>
    public ulong Seed { get; set; }
    /// <summary>K for the importance-sampled log-likelihood; null: no log-likelihood.</summary>
    public int? ImportanceSamples { get; set; }
    /// <summary>Threads for the log-likelihood estimate.</summary>
    public int Threads { get; set; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>The mean-image baseline instead of a model: the training data whose mean image predicts every image.</summary>
    public IDataset? MeanImageOf { get; set; }
}

/// <summary>
/// Measure-ReconstructionError: <see cref="ReconstructionAnalysis.Measure"/> per (model, data) pair and, with
/// -ImportanceSamples K, <see cref="LikelihoodEstimator.Estimate"/> (per class too with -ByClass). Progress is
/// activity 1 (the reconstructions) then activity 2 (the log-likelihood); Ctrl+C emits nothing. A linear-Gaussian
/// model (a PPCA fit, <see cref="Ppca.HasExactLikelihood"/>) always gets its exact log-likelihood instead of an
/// estimate; with <see cref="MeasureParameters.MeanImageOf"/> the mean-image baseline is measured instead of a model.
/// </summary>
public sealed class MeasureLogic
{
    public const int ReconstructionActivity = 1, LikelihoodActivity = 2;

    private readonly MeasureParameters _p;
    private readonly Func<TimeSpan>? _clock;

    /// <param name="parameters">What to measure.</param>
    /// <param name="clock">Time source of the progress throttle (tests step it); default a stopwatch.</param>
    public MeasureLogic(MeasureParameters parameters, Func<TimeSpan>? clock = null)
    {
        _p = parameters;
        _clock = clock;
    }

    public void Process(ICommandSink sink, VaeModel? model, IDataset? data, CancellationToken cancellation)
    {
        if (_p.MeanImageOf is IDataset train && data is not null)
        {
            MeasureMeanImage(sink, train, data, cancellation);
            return;
        }
        if (model is null || data is null)
        {
            string missing = model is null ? "Model" : "Data";
            sink.WriteError(new CommandError($"Missing{missing}", ErrorKind.InvalidArgument, model ?? (object?)data,
                new ArgumentException($"Measure-ReconstructionError needs a model and data; -{missing} was not given.", missing)));
            return;
        }
        try
        {
            Preconditions.RequireEncoder(model, "its reconstructions cannot be measured");
            Preconditions.RequireInputWidth(model, data, "Data");
        }
        catch (CommandException e) { sink.WriteError(e.Error); return; } // this piped model or data set only
        var throttle = new ProgressThrottle(TimeSpan.FromMilliseconds(250), _clock);
        string activity = $"Measuring reconstructions of {data.Description}";
        IReadOnlyList<ReconstructionMetrics> metrics;
        try
        {
            metrics = ReconstructionAnalysis.Measure(model, data, _p.ByClass, _p.Seed,
                progress: (done, total) => { if (done == total || throttle.Ready()) sink.WriteProgress(new ProgressReport(ReconstructionActivity, activity, $"{done} of {total} images", 100 * done / total)); },
                cancellation: cancellation);
        }
        catch (OperationCanceledException) { return; }
        finally { sink.WriteProgress(new ProgressReport(ReconstructionActivity, activity, "Done", 100, Completed: true)); }

        var results = metrics.ToList();
        if (Ppca.HasExactLikelihood(model.Config))
        {
            // p(x) = N(b, W W^T + sigma^2 I): no estimate needed.
            var exact = Ppca.ExactLogLikelihood(model, data, new RandomSource(_p.Seed));
            results[0] = WithLikelihood(results[0], exact, null);
            if (_p.ByClass) AddPerClass(results, data, exact, null);
            sink.WriteVerbose(FormattableString.Invariant($"log p(x) = {results[0].LogLikelihood:0.00} nats, exact: the model is linear-Gaussian (a PPCA fit or alike){(_p.ImportanceSamples is int ignored ? $", so -ImportanceSamples {ignored} was not needed" : "")}."));
        }
        else if (_p.ImportanceSamples is int k)
        {
            LikelihoodEstimate estimate;
            string llActivity = $"Estimating log p(x) of {data.Description} with {k} importance samples";
            try
            {
                using var pool = new WorkerPool(Math.Max(1, _p.Threads));
                var progress = new InlineProgress(f =>
                {
                    if (f >= 1 || throttle.Ready())
                        sink.WriteProgress(new ProgressReport(LikelihoodActivity, llActivity, $"{(int)Math.Round(f * data.Count)} of {data.Count} images", (int)(100 * f)));
                });
                estimate = LikelihoodEstimator.Estimate(model, data, k, new RandomSource(_p.Seed ^ 0x5DEECE66DUL), pool,
                    progress: progress, cancellation: cancellation);
            }
            catch (OperationCanceledException) { return; }
            catch (ArgumentException e)
            {
                sink.WriteError(Errors.From(e, "LikelihoodEstimateFailed", data));
                return;
            }
            finally { sink.WriteProgress(new ProgressReport(LikelihoodActivity, llActivity, "Done", 100, Completed: true)); }

            results[0] = WithLikelihood(results[0], estimate.PerImage, k);
            if (_p.ByClass) AddPerClass(results, data, estimate.PerImage, k);
            sink.WriteVerbose(FormattableString.Invariant($"log p(x) ~ {estimate.MeanLogLikelihood:0.00} +- {estimate.StandardError:0.00} nats ({k} importance samples, {data.Count} images)."));
        }

        foreach (var r in _p.ByClass ? results.Skip(1) : results.Take(1)) sink.WriteObject(r);
    }

    private void MeasureMeanImage(ICommandSink sink, IDataset train, IDataset data, CancellationToken cancellation)
    {
        try { Preconditions.RequireSameWidth(data, "Data", train, "MeanImageOf"); }
        catch (CommandException e) { sink.WriteError(e.Error); return; } // this piped data set only
        IReadOnlyList<ReconstructionMetrics> results;
        try { results = Ppca.MeanImageBaseline(train, data, _p.ByClass, cancellation); }
        catch (OperationCanceledException) { return; }
        catch (ArgumentException e)
        {
            sink.WriteError(Errors.From(e, "MeanImageBaselineFailed", train));
            return;
        }
        sink.WriteVerbose(FormattableString.Invariant($"Mean image of {train.Description} as the reconstruction of {data.Description}: squared error {results[0].MeanSquaredError:0.00}, log p(x) = {results[0].LogLikelihood:0.00} nats under N(mean, sigma^2 I)."));
        foreach (var r in _p.ByClass ? results.Skip(1) : results.Take(1)) sink.WriteObject(r);
    }

    /// <summary>Fills the per-class entries (results[1..]) from the per-image values.</summary>
    private static void AddPerClass(List<ReconstructionMetrics> results, IDataset data, double[] perImage, int? k)
    {
        var byLabel = Enumerable.Range(0, data.Count).GroupBy(data.GetLabel).ToDictionary(g => g.Key, g => g.Select(i => perImage[i]).ToArray()); // key -1: unlabelled
        for (int i = 1; i < results.Count; i++)
            if (byLabel.TryGetValue(results[i].Label ?? -1, out var values)) results[i] = WithLikelihood(results[i], values, k);
    }

    /// <summary><paramref name="r"/> with the mean and standard error of the per-image values <paramref name="values"/> (estimates from K samples, or exact when K is null).</summary>
    private static ReconstructionMetrics WithLikelihood(ReconstructionMetrics r, double[] values, int? k)
    {
        double mean = values.Average();
        double variance = values.Length > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) : 0;
        return r with { LogLikelihood = mean, LogLikelihoodStandardError = Math.Sqrt(variance / values.Length), ImportanceSamples = k };
    }

    /// <summary>An IProgress that reports on the calling thread at once (Progress&lt;T&gt; would post elsewhere).</summary>
    private sealed class InlineProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
