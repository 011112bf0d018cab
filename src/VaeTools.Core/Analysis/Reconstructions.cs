using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Analysis;

/// <summary>Originals and their reconstructions, row for row: each [N x D].</summary>
public sealed record ReconstructionPairs(Tensor Originals, Tensor Reconstructions);

/// <summary>
/// Per-image reconstructions: x, decode(mu(x)) (the decoder's mean image at the posterior mean) and the
/// squared error sum_d (x_d - decode(mu(x))_d)^2 of each image — the figure whose mean
/// <see cref="ReconstructionAnalysis.Measure"/> reports, here per image so spreads (error bars) can be shown.
/// </summary>
public static class Reconstructions
{
    /// <summary>Rows <paramref name="rows"/> of <paramref name="data"/> and their reconstructions.</summary>
    /// <param name="model">A model with an encoder.</param>
    /// <param name="data">Images of the model's input width.</param>
    /// <param name="rows">Row numbers of <paramref name="data"/> (at least one).</param>
    /// <param name="random">Needed for Bernoulli-sampled data; the reconstruction is of the pixels drawn.</param>
    public static ReconstructionPairs Reconstruct(VaeModel model, IDataset data, ReadOnlySpan<int> rows, RandomSource? random = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (model.Config.DecoderOnly)
            throw new InvalidOperationException($"The model ({model.Config}) is decoder-only: it has no encoder, so it cannot reconstruct images.");
        model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        if (rows.Length == 0) throw new ArgumentException("No rows to reconstruct.", nameof(rows));
        var x = new Tensor(rows.Length, data.Features);                  // [N x D]
        data.CopyRows(rows, x.Span, random);
        var mu = model.Encode(x).Mean;                                    // [N x P]
        return new ReconstructionPairs(x, model.Decode(mu));              // decode: [N x D] mean images
    }

    /// <summary>
    /// The squared reconstruction error of every image of <paramref name="data"/> ([N]), computed in chunks of
    /// <paramref name="chunk"/> images; <paramref name="progress"/> gets (images done, total) after each chunk.
    /// </summary>
    /// <exception cref="OperationCanceledException">When <paramref name="cancellation"/> fires (checked between chunks).</exception>
    public static double[] SquaredErrors(VaeModel model, IDataset data, RandomSource? random = null, int chunk = 1000,
        Action<int, int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (chunk <= 0) throw new ArgumentOutOfRangeException(nameof(chunk), chunk, "The chunk size must be positive.");
        int n = data.Count, d = data.Features;
        var errors = new double[n];
        var rows = new int[Math.Min(chunk, Math.Max(1, n))];
        for (int start = 0; start < n; start += rows.Length)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Math.Min(rows.Length, n - start);
            for (int i = 0; i < count; i++) rows[i] = start + i;
            var pairs = Reconstruct(model, data, rows.AsSpan(0, count), random);
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<float> xi = pairs.Originals.Row(i), ri = pairs.Reconstructions.Row(i);
                double se = 0;
                for (int j = 0; j < d; j++) { double diff = xi[j] - ri[j]; se += diff * diff; }
                errors[start + i] = se;
            }
            progress?.Invoke(start + count, n);
        }
        return errors;
    }
}
