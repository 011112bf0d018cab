using VaeTools.Analysis;

namespace VaeTools.PowerShell;

/// <summary>
/// What Measure-ReconstructionError emits: the reconstruction figures of <see cref="ReconstructionMetrics"/> and,
/// with -ImportanceSamples K, the importance-sampled log-likelihood estimate log p(x) (nats per image) and its
/// standard error over images.
/// </summary>
public sealed record ReconstructionResult
{
    /// <summary>The class these figures are for, or null for all images.</summary>
    public int? Label { get; init; }

    /// <summary>Images measured.</summary>
    public int Count { get; init; }

    /// <summary>Mean over images of the summed squared pixel error of decode(mu(x)).</summary>
    public double MeanSquaredError { get; init; }

    /// <summary>Bernoulli models: mean -log p(x | z = mu(x)); null for Gaussian likelihoods.</summary>
    public double? BinaryCrossEntropy { get; init; }

    /// <summary>Mean KL(q(z|x) || p(z)) in nats.</summary>
    public double Kl { get; init; }

    /// <summary>Mean one-sample ELBO in nats (higher is better).</summary>
    public double Elbo { get; init; }

    /// <summary>Mean importance-sampled log p(x) (the bound L_K) in nats; null without -ImportanceSamples.</summary>
    public double? LogLikelihood { get; init; }

    /// <summary>Standard error of <see cref="LogLikelihood"/> over images; null without -ImportanceSamples.</summary>
    public double? LogLikelihoodStandardError { get; init; }

    /// <summary>K, the importance samples per image behind <see cref="LogLikelihood"/>; null without -ImportanceSamples.</summary>
    public int? ImportanceSamples { get; init; }

    /// <summary>The figures of <paramref name="m"/> without a log-likelihood.</summary>
    public static ReconstructionResult From(ReconstructionMetrics m) => new()
    {
        Label = m.Label,
        Count = m.Count,
        MeanSquaredError = m.MeanSquaredError,
        BinaryCrossEntropy = m.BinaryCrossEntropy,
        Kl = m.Kl,
        Elbo = m.Elbo,
    };
}

/// <summary>How much one latent dimension is used (Measure-VaeLatent): one object per dimension.</summary>
public sealed record LatentDimension
{
    /// <summary>Dimension number, 1-based (Z1, Z2, ... in Get-VaeEncoding).</summary>
    public int Dimension { get; init; }

    /// <summary>Mean over images of KL(q(z_d | x) || N(0, 1)) in nats.</summary>
    public double Kl { get; init; }

    /// <summary>Variance over images of the posterior mean mu_d(x).</summary>
    public double MeanVariance { get; init; }

    /// <summary>Whether <see cref="MeanVariance"/> exceeds <see cref="Threshold"/> (an active unit).</summary>
    public bool Active { get; init; }

    /// <summary>The activity threshold used (default 0.01).</summary>
    public double Threshold { get; init; }
}
