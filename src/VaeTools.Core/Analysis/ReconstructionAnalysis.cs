using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Engine.Ops;
using VaeTools.Model;

namespace VaeTools.Analysis;

/// <summary>
/// How well a model reconstructs a set of images (all of them, or one class). Per-image figures in nats
/// (or squared pixel units), averaged over the <see cref="Count"/> images.
/// </summary>
public sealed record ReconstructionMetrics
{
    /// <summary>The class these figures are for, or null for all images.</summary>
    public int? Label { get; init; }

    /// <summary>Images measured.</summary>
    public int Count { get; init; }

    /// <summary>Mean over images of sum over pixels of (x - decode(mu(x)))^2, with decode the decoder's mean image.</summary>
    public double MeanSquaredError { get; init; }

    /// <summary>
    /// Bernoulli models: mean over images of -log p(x | z = mu(x)) = sum_d softplus(l_d) - x_d l_d, computed from the
    /// logits. Null for Gaussian likelihoods (the data are not probabilities of a Bernoulli decoder).
    /// </summary>
    public double? BinaryCrossEntropy { get; init; }

    /// <summary>Mean KL(q(z|x) || p(z)): closed form for the standard normal prior, one-sample estimate for Laplace.</summary>
    public double Kl { get; init; }

    /// <summary>Mean ELBO = log p(x | z) - KL with one z ~ q(z|x) per image (beta = 1); higher is better.</summary>
    public double Elbo { get; init; }

    /// <summary>Mean importance-sampled log p(x) (the bound L_K, <see cref="LikelihoodEstimator"/>) in nats; null unless requested. Exact (and always given) for linear-Gaussian models such as PPCA fits, with <see cref="ImportanceSamples"/> null.</summary>
    public double? LogLikelihood { get; init; }

    /// <summary>Standard error of <see cref="LogLikelihood"/> over images; null unless requested.</summary>
    public double? LogLikelihoodStandardError { get; init; }

    /// <summary>K, the importance samples per image behind <see cref="LogLikelihood"/>; null unless requested.</summary>
    public int? ImportanceSamples { get; init; }
}

/// <summary>
/// Computes <see cref="ReconstructionMetrics"/>: encodes each batch once, decodes mu(x) for the squared error and
/// cross-entropy, and one reparameterised sample z = mu + sigma eps for the ELBO. Deterministic for a given seed.
/// </summary>
public static class ReconstructionAnalysis
{
    /// <summary>Measures <paramref name="model"/> on <paramref name="data"/>.</summary>
    /// <param name="model">A model with an encoder (not decoder-only).</param>
    /// <param name="data">Rows of the model's input width.</param>
    /// <param name="byClass">Also return one entry per label present (sorted), after the overall entry.</param>
    /// <param name="seed">Seed of the ELBO's z samples (and of Bernoulli-sampled data).</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <param name="progress">Called after each batch with (images done, total).</param>
    /// <param name="cancellation">Checked between batches; throws <see cref="OperationCanceledException"/>.</param>
    /// <returns>The overall entry (Label null) first, then with <paramref name="byClass"/> one per label.</returns>
    public static IReadOnlyList<ReconstructionMetrics> Measure(VaeModel model, IDataset data, bool byClass = false, ulong seed = 0,
        int batchSize = 500, Action<int, int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (model.Config.DecoderOnly)
            throw new InvalidOperationException("This is a decoder-only model: it has no encoder, so its reconstructions cannot be measured.");
        model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        if (data.Count == 0) throw new ArgumentException($"The data ({data.Description}) has no images.", nameof(data));
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be positive.");

        var random = new RandomSource(seed);
        var g = new Graph(model.InferencePool, random.Split());
        var x = g.Input("x", model.Config.InputDim);
        var (mu, logVar) = model.BuildEncoder(g, x);                        // [B x P] each
        var atMean = model.BuildDecoder(g, mu);
        var meanImage = model.MeanImage(g, atMean);                          // [B x D]
        var logLikAtMean = model.BuildLogLikelihood(g, atMean, x);           // [B x 1]
        // The reparameterised sample and the KL are the model's one definition (VaeMath), as in training.
        var z = model.BuildReparameterize(g, mu, logVar);                   // z = mu + sigma eps
        var logLikAtZ = model.BuildLogLikelihood(g, model.BuildDecoder(g, z), x);
        var kl = model.BuildKl(g, mu, logVar, z);
        // One node that depends on everything, so one forward pass computes all of it with a single draw of eps.
        var all = g.Add(g.Add(logLikAtMean, g.Sum(meanImage, Axis.Columns)), g.Subtract(logLikAtZ, kl));

        int n = data.Count, d = model.Config.InputDim;
        bool bernoulli = model.Config.Likelihood == Likelihood.Bernoulli;
        var totals = new Dictionary<int, Sums>(); // key: label (-1 for unlabelled), then -2 for the overall sums
        var overall = new Sums();
        var rows = new int[Math.Min(batchSize, n)];
        var dataRandom = random.Split();
        for (int start = 0; start < n; start += rows.Length)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(rows.Length, n - start);
            for (int i = 0; i < count; i++) rows[i] = start + i;
            data.CopyRows(rows.AsSpan(0, count), x.SetRows(count).Span, dataRandom);
            g.Forward(all);
            var xs = x.Value;
            var recon = meanImage.Value;
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<float> xi = xs.Row(i), ri = recon.Row(i);
                double se = 0;
                for (int j = 0; j < d; j++) { double diff = xi[j] - ri[j]; se += diff * diff; }
                double bce = -logLikAtMean.Value[i, 0];
                double k = kl.Value[i, 0];
                double elbo = logLikAtZ.Value[i, 0] - k;
                overall.Add(se, bce, k, elbo);
                if (byClass)
                {
                    int label = data.GetLabel(start + i);
                    if (!totals.TryGetValue(label, out var s)) totals[label] = s = new Sums();
                    s.Add(se, bce, k, elbo);
                }
            }
            progress?.Invoke(start + count, n);
        }

        var result = new List<ReconstructionMetrics> { overall.ToMetrics(null, bernoulli) };
        foreach (var (label, s) in totals.OrderBy(kv => kv.Key))
            result.Add(s.ToMetrics(label < 0 ? null : label, bernoulli));
        return result;
    }

    private sealed class Sums
    {
        public int Count;
        public double SquaredError, CrossEntropy, Kl, Elbo;

        public void Add(double se, double bce, double kl, double elbo)
        {
            Count++; SquaredError += se; CrossEntropy += bce; Kl += kl; Elbo += elbo;
        }

        public ReconstructionMetrics ToMetrics(int? label, bool bernoulli) => new()
        {
            Label = label,
            Count = Count,
            MeanSquaredError = SquaredError / Count,
            BinaryCrossEntropy = bernoulli ? CrossEntropy / Count : null,
            Kl = Kl / Count,
            Elbo = Elbo / Count,
        };
    }
}
