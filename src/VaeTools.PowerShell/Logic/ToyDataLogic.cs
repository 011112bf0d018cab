using VaeTools.Data;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Get-VaeToyData.</summary>
public sealed class ToyDataParameters
{
    public int Count { get; set; } = 5000;
    /// <summary>Rotate the Gaussian by 45 degrees (correlated coordinates).</summary>
    public bool Rotated { get; set; }
    /// <summary>Null: a fresh seed (reported in the verbose stream).</summary>
    public ulong? Seed { get; set; }
    /// <summary>All the points, or the first 70% (Train) or the last 30% (Test) of them.</summary>
    public string Subset { get; set; } = "All";
}

/// <summary>
/// Get-VaeToyData: the spec's 2-D toy data set, x ~ N([2, 3], diag([3, 1]^2)), axis-aligned or with its covariance
/// rotated by 45 degrees, as one data set object of Count x 2 values (for New-Vae -InputDim 2, or piped into New-Vae);
/// -Subset Train / Test give the homework's 70/30 split of the same Count points (same seed, disjoint parts).
/// </summary>
public static class ToyDataLogic
{
    public static void Process(ICommandSink sink, ToyDataParameters p)
    {
        ulong seed = p.Seed ?? (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        TensorDataset data;
        try
        {
            data = ToyDatasets.Gaussian2D(p.Count, p.Rotated, seed);
            if (!p.Subset.Equals("All", StringComparison.OrdinalIgnoreCase))
            {
                bool train = p.Subset.Equals("Train", StringComparison.OrdinalIgnoreCase);
                if (!train && !p.Subset.Equals("Test", StringComparison.OrdinalIgnoreCase))
                    throw new ArgumentException($"-Subset must be All, Train or Test; got '{p.Subset}'.", "Subset");
                data = ToyDatasets.SplitPart(data, train);
            }
        }
        catch (ArgumentException e)
        {
            sink.WriteError(Errors.From(e, "InvalidToyDataParameters", p));
            return;
        }
        sink.WriteVerbose($"Drew {data.Description} with seed {seed}.");
        sink.WriteObject(data);
    }
}
