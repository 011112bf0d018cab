using System.Globalization;
using VaeTools.Data;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of New-PpcaModel.</summary>
public sealed class PpcaParameters
{
    /// <summary>P, the number of principal components.</summary>
    public int LatentDim { get; set; } = 2;
    /// <summary>The model's seed (its sampling streams, and the draw of Bernoulli-sampled data); null: a fresh one.</summary>
    public ulong? Seed { get; set; }
}

/// <summary>
/// New-PpcaModel: fits probabilistic PCA in closed form to each data set piped in (<see cref="Ppca.Fit"/>) and emits
/// it as a model (no hidden layers, Gaussian decoder of shared variance, the exact posterior as its encoder).
/// </summary>
public static class PpcaLogic
{
    public static void Process(ICommandSink sink, PpcaParameters p, IDataset? data, CancellationToken cancellation)
    {
        if (data is null)
        {
            sink.WriteError(new CommandError("MissingData", ErrorKind.InvalidArgument, null,
                new ArgumentException("New-PpcaModel needs data to fit; -Data was not given or is null.", "Data")));
            return;
        }
        if (p.LatentDim >= data.Features)
        {
            sink.WriteError(new CommandError("LatentDimTooLarge", ErrorKind.InvalidArgument, data,
                new ArgumentException($"-LatentDim {p.LatentDim} leaves no dimensions for the noise: the data ({data.Description}) has {data.Features} values per image, so -LatentDim must be at most {data.Features - 1}.", "LatentDim")));
            return;
        }
        ulong seed = p.Seed ?? (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        string activity = $"Fitting PPCA with {p.LatentDim} components to {data.Description}";
        sink.WriteProgress(new ProgressReport(1, activity, "Covariance and eigen-decomposition", 0));
        VaeModel model;
        try
        {
            model = Ppca.Fit(data, p.LatentDim, seed, cancellation: cancellation);
        }
        catch (OperationCanceledException) { return; }
        catch (ArgumentException e)
        {
            sink.WriteError(Errors.From(e, "PpcaFitFailed", data));
            return;
        }
        finally { sink.WriteProgress(new ProgressReport(1, activity, "Done", 100, Completed: true)); }
        double noise = Math.Exp(model.DecoderLogVariance!.Value[0, 0]);
        sink.WriteVerbose(string.Create(CultureInfo.InvariantCulture,
            $"PPCA of {data.Description}: {p.LatentDim} components, noise variance sigma^2 = {noise:G4} (the mean of the {data.Features - p.LatentDim} discarded eigenvalues), seed {seed}."));
        sink.WriteObject(model);
    }
}
