using VaeTools.Analysis;

namespace VaeTools.PowerShell;

/// <summary>How much one latent dimension is used (Measure-VaeLatent): one object per dimension.</summary>
public sealed record LatentDimension
{
    /// <summary>Dimension number, 1-based (Z1, Z2, ... in Get-VaeEncoding).</summary>
    public int Dimension { get; init; }

    /// <summary>Mean over images of KL(q(z_d | x) || N(0, 1)) in nats.</summary>
    public double Kl { get; init; }

    /// <summary>Variance over images of the posterior mean mu_d(x).</summary>
    public double MeanVariance { get; init; }

    /// <summary>Whether the unit is active: <see cref="MeanVariance"/> exceeds <see cref="Threshold"/> and <see cref="Kl"/> is at least <see cref="KlThreshold"/>.</summary>
    public bool Active { get; init; }

    /// <summary>The activity threshold on the posterior-mean variance (default 0.01).</summary>
    public double Threshold { get; init; }

    /// <summary>The least KL of an active unit, in nats (default 0.1).</summary>
    public double KlThreshold { get; init; }
}
