using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Analysis;

/// <summary>An estimate of the mean log p(x) over a data set, in nats per image.</summary>
/// <param name="MeanLogLikelihood">Mean over images of the per-image estimate.</param>
/// <param name="StandardError">Standard error of the mean over images (std of the per-image estimates / sqrt(N)).</param>
/// <param name="Count">Images.</param>
/// <param name="Samples">Importance samples per image (K).</param>
/// <param name="PerImage">Each image's estimate.</param>
public sealed record LikelihoodEstimate(double MeanLogLikelihood, double StandardError, int Count, int Samples, double[] PerImage);

/// <summary>
/// log p(x) by importance sampling: log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k ~ q(z | x) — the IWAE
/// bound L_K, which rises towards log p(x) as K grows (spec: Objectives). Samples are drawn in chunks
/// and combined with a running log-sum-exp per image, so memory is bounded whatever K is.
/// A decoder-only model uses its prior as the proposal: log (1/K) sum_k p(x | z_k), z_k ~ p(z).
/// </summary>
public static class LikelihoodEstimator
{
    /// <summary>Rows (images x samples) one chunk may hold; bounds memory to roughly rows * (D + hidden) * 4 bytes per layer.</summary>
    public const int MaxRowsPerChunk = 8192;

    public static LikelihoodEstimate Estimate(VaeModel model, IDataset data, int samples, RandomSource random,
        WorkerPool? pool = null, int batchSize = 64, IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(random);
        if (samples is < 1 or > 100_000) throw new ArgumentOutOfRangeException(nameof(samples), samples, "The number of importance samples must be between 1 and 100000.");
        model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        int n = data.Count;
        if (n == 0) throw new ArgumentException($"The data ({data.Description}) has no images.", nameof(data));
        batchSize = Math.Clamp(batchSize, 1, Math.Min(n, MaxRowsPerChunk));
        int chunk = Math.Clamp(MaxRowsPerChunk / batchSize, 1, samples);

        var lossGraph = model.Config.DecoderOnly
            ? model.BuildDecoderOnlyLossGraph(chunk, pool, random)
            : model.BuildLossGraph(Objective.Iwae, chunk, pool, random);
        var lastGraph = samples % chunk == 0 ? null
            : model.Config.DecoderOnly ? model.BuildDecoderOnlyLossGraph(samples % chunk, pool, random)
            : model.BuildLossGraph(Objective.Iwae, samples % chunk, pool, random);

        var perImage = new double[n];
        var rows = new int[batchSize];
        // Each batch is read once and reused by every chunk: with dynamic binarization a second read would be a
        // different draw of the images, and the chunks' weights would then belong to different x.
        var images = new float[batchSize * data.Features];
        var max = new double[batchSize];
        var sum = new double[batchSize];
        for (int start = 0; start < n; start += batchSize)
        {
            int count = Math.Min(batchSize, n - start);
            for (int i = 0; i < count; i++) rows[i] = start + i;
            Array.Fill(max, double.NegativeInfinity);
            Array.Clear(sum);
            data.CopyRows(rows.AsSpan(0, count), images.AsSpan(0, count * data.Features), random);
            for (int done = 0; done < samples; done += chunk)
            {
                cancellation.ThrowIfCancellationRequested();
                var g = samples - done >= chunk ? lossGraph : lastGraph!;
                int k = Math.Min(chunk, samples - done);
                images.AsSpan(0, count * data.Features).CopyTo(g.Data.SetRows(count).Span);
                g.Graph.Forward(g.LogWeights!);
                Accumulate(g.LogWeights!.Value, count, k, model.Config.DecoderOnly, max, sum);
            }
            for (int i = 0; i < count; i++) perImage[start + i] = max[i] + Math.Log(sum[i]) - Math.Log(samples);
            progress?.Report((double)(start + count) / n);
        }

        double mean = perImage.Average();
        double variance = n > 1 ? perImage.Sum(v => (v - mean) * (v - mean)) / (n - 1) : 0;
        return new LikelihoodEstimate(mean, Math.Sqrt(variance / n), n, samples, perImage);
    }

    /// <summary>Folds one chunk of log-weights into each image's running (max, sum of exp(w - max)).</summary>
    private static void Accumulate(Tensor logW, int images, int k, bool decoderOnly, double[] max, double[] sum)
    {
        for (int b = 0; b < images; b++)
        {
            // IWAE rows: sample j of image b at row j*images + b. Decoder-only: [images x k], image b's row.
            double m = max[b];
            for (int j = 0; j < k; j++)
                m = Math.Max(m, decoderOnly ? logW[b, j] : logW[j * images + b, 0]);
            if (double.IsNegativeInfinity(m)) continue;
            double s = sum[b] * Math.Exp(max[b] - m);
            for (int j = 0; j < k; j++)
                s += Math.Exp((decoderOnly ? logW[b, j] : logW[j * images + b, 0]) - m);
            max[b] = m;
            sum[b] = s;
        }
    }
}
