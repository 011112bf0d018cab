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
}

/// <summary>
/// Get-VaeToyData: the spec's 2-D toy data set, x ~ N([2, 3], diag([3, 1]^2)), axis-aligned or rotated by 45 degrees,
/// as one data set object of Count x 2 values (for New-Vae -InputDim 2, or piped into New-Vae).
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
