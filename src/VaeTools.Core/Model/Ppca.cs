using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>
/// Probabilistic PCA (Tipping and Bishop 1999), the linear baseline: x = W z + mu + noise, z ~ N(0, I),
/// noise ~ N(0, sigma^2 I). Fitted in closed form from the eigen-decomposition of the sample covariance S:
/// sigma^2 is the mean of the D - P discarded eigenvalues and W = U_P (Lambda_P - sigma^2 I)^(1/2).
/// <para>
/// The fit is returned as a <see cref="VaeModel"/> with no hidden layers and a Gaussian decoder of shared variance
/// (decoder weight W, bias mu, log-variance log sigma^2) whose encoder is PPCA's exact posterior,
/// q(z | x) = N(M^-1 W^T (x - mu), sigma^2 M^-1) with M = W^T W + sigma^2 I = Lambda_P, which is diagonal for this W.
/// So every cmdlet that takes a model takes it: encodings are posterior means, samples decode prior draws, and the
/// ELBO's KL gap is zero.
/// </para>
/// </summary>
public static class Ppca
{
    /// <summary>Fits PPCA with <paramref name="latentDim"/> components to every row of <paramref name="data"/>.</summary>
    /// <param name="data">The images (or points); at least two rows.</param>
    /// <param name="latentDim">P, between 1 and the data's width minus 1.</param>
    /// <param name="seed">The model's seed (its sampling streams), and the draw of Bernoulli-sampled data.</param>
    /// <param name="pool">Threads for the covariance product.</param>
    /// <param name="cancellation">Checked between chunks of rows.</param>
    public static VaeModel Fit(IDataset data, int latentDim, ulong seed = 1, WorkerPool? pool = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        int n = data.Count, d = data.Features;
        if (n < 2) throw new ArgumentException($"PPCA needs at least 2 images to estimate a covariance; the data ({data.Description}) has {n}.", nameof(data));
        if (latentDim < 1 || latentDim >= d)
            throw new ArgumentOutOfRangeException(nameof(latentDim), latentDim, $"The latent size must be between 1 and {d - 1} (one less than the data's width, {d}).");

        var (mean, covariance) = MeanAndCovariance(data, new RandomSource(seed), pool, cancellation);
        var eigen = new SymmetricEigen(covariance, d);
        double discarded = 0;
        for (int j = latentDim; j < d; j++) discarded += Math.Max(0, eigen.Values[j]);
        double noise = discarded / (d - latentDim);
        // Float32 sums leave rank-deficient data about 1e-7 of the variance off zero: treat that as no noise.
        if (!(noise > 1e-6 * Math.Max(eigen.Values[0], double.Epsilon)))
            throw new ArgumentException($"The data ({data.Description}) lies in a subspace of at most {latentDim} dimensions, so PPCA's noise variance would be 0. Use a smaller latent size.", nameof(data));

        var model = new VaeModel(new VaeConfig
        {
            InputDim = d, HiddenDims = Array.Empty<int>(), LatentDim = latentDim,
            Likelihood = Likelihood.GaussianSharedVariance, Seed = seed,
        });
        var encMean = model.EncoderMean!;
        var encLogVar = model.EncoderLogVariance!;
        var decoder = model.DecoderOutput!;
        encLogVar.Weight.Value.Clear();
        for (int i = 0; i < latentDim; i++)
        {
            double lambda = Math.Max(eigen.Values[i], noise);          // = M_ii
            double scale = Math.Sqrt(lambda - noise);                  // W = U_P (Lambda - sigma^2)^(1/2)
            double bias = 0;
            for (int j = 0; j < d; j++)
            {
                double u = eigen.Vectors[j * d + i];
                double w = u * scale;
                SetWeight(decoder, row: j, col: i, (float)w);          // decoder weight [D x P], out x in
                double a = w / lambda;                                 // M^-1 W^T
                encMean.Weight.Value[i, j] = (float)a;
                bias -= a * mean[j];
            }
            encMean.Bias.Value[0, i] = (float)bias;
            encLogVar.Bias.Value[0, i] = (float)Math.Log(noise / lambda); // sigma^2 M^-1
        }
        for (int j = 0; j < d; j++) decoder.Bias.Value[0, j] = (float)mean[j];
        model.DecoderLogVariance!.Value[0, 0] = (float)Math.Log(noise);
        return model;
    }

    private static void SetWeight(LinearLayer layer, int row, int col, float value)
    {
        if (layer.InputMajor) layer.Weight.Value[col, row] = value;
        else layer.Weight.Value[row, col] = value;
    }

    private static float GetWeight(LinearLayer layer, int row, int col) =>
        layer.InputMajor ? layer.Weight.Value[col, row] : layer.Weight.Value[row, col];

    /// <summary>The mean row and the (1/N) covariance, [D x D] row-major, in float64 (chunk products in float32 on the GEMM).</summary>
    internal static (double[] Mean, double[] Covariance) MeanAndCovariance(IDataset data, RandomSource? random, WorkerPool? pool, CancellationToken cancellation)
    {
        int n = data.Count, d = data.Features;
        const int Chunk = 512;
        var rows = new int[Math.Min(Chunk, n)];
        var x = new float[rows.Length * d];
        // Bernoulli-sampled data is drawn once: both passes must see the same images.
        random ??= new RandomSource(1);
        var seeds = Enumerable.Range(0, (n + Chunk - 1) / Chunk).Select(_ => random.NextUInt64()).ToArray();
        var mean = new double[d];
        for (int start = 0, c = 0; start < n; start += Chunk, c++)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Load(data, start, rows, x, new RandomSource(seeds[c]));
            for (int i = 0; i < count; i++)
                for (int j = 0; j < d; j++) mean[j] += x[i * d + j];
        }
        for (int j = 0; j < d; j++) mean[j] /= n;

        var covariance = new double[d * d];
        var product = new float[d * d];
        for (int start = 0, c = 0; start < n; start += Chunk, c++)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Load(data, start, rows, x, new RandomSource(seeds[c]));
            for (int i = 0; i < count; i++)
                for (int j = 0; j < d; j++) x[i * d + j] -= (float)mean[j];
            // (X - mu)^T (X - mu) of the chunk: float32 sums of at most 512 terms, added up in float64.
            Gemm.Multiply(true, false, d, d, count, x, d, x, d, product, d, accumulate: false, pool);
            for (int t = 0; t < product.Length; t++) covariance[t] += product[t];
        }
        for (int t = 0; t < covariance.Length; t++) covariance[t] /= n;
        return (mean, covariance);
    }

    private static int Load(IDataset data, int start, int[] rows, float[] x, RandomSource? random)
    {
        int count = Math.Min(rows.Length, data.Count - start);
        for (int i = 0; i < count; i++) rows[i] = start + i;
        data.CopyRows(rows.AsSpan(0, count), x.AsSpan(0, count * data.Features), random);
        return count;
    }

    /// <summary>
    /// Whether log p(x) of a model has a closed form: a linear-Gaussian model (no hidden layers, a Gaussian decoder
    /// of shared or unit variance with a linear mean, the standard-normal prior), for which
    /// p(x) = N(x; b, W W^T + sigma^2 I) whatever its encoder. PPCA fits are such models.
    /// </summary>
    public static bool HasExactLikelihood(VaeConfig config) =>
        config.Architecture == Architecture.Mlp && config.HiddenDims.Length == 0 && !config.SigmoidMean && config.Prior == Prior.StandardNormal &&
        config.Likelihood is Likelihood.GaussianSharedVariance or Likelihood.GaussianUnitVariance;

    /// <summary>
    /// log p(x) of every row of <paramref name="data"/> under a linear-Gaussian model (<see cref="HasExactLikelihood"/>),
    /// in float64: -1/2 [D log 2pi + (D - P) log sigma^2 + log det M + (|r|^2 - r^T W M^-1 W^T r) / sigma^2] with
    /// r = x - b and M = W^T W + sigma^2 I (Woodbury and the matrix determinant lemma).
    /// </summary>
    /// <param name="model">A linear-Gaussian model.</param>
    /// <param name="data">Rows of the model's input width.</param>
    /// <param name="random">Draws Bernoulli-sampled data (a fixed seed when null).</param>
    public static double[] ExactLogLikelihood(VaeModel model, IDataset data, RandomSource? random = null)
    {
        random ??= new RandomSource(1);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (!HasExactLikelihood(model.Config))
            throw new InvalidOperationException($"The model ({model.Config}) is not linear-Gaussian, so its log-likelihood has no closed form; estimate it by importance sampling.");
        model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        int d = model.Config.InputDim, p = model.Config.LatentDim;
        var decoder = model.DecoderOutput!;
        double noise = model.Config.Likelihood == Likelihood.GaussianSharedVariance ? Math.Exp(model.DecoderLogVariance!.Value[0, 0]) : 1.0;

        var w = new double[d * p]; // [D x P]
        for (int j = 0; j < d; j++)
            for (int i = 0; i < p; i++) w[j * p + i] = GetWeight(decoder, j, i);
        var m = new double[p * p];
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++)
            {
                double s = a == b ? noise : 0;
                for (int j = 0; j < d; j++) s += w[j * p + a] * w[j * p + b];
                m[a * p + b] = s;
            }
        var chol = Cholesky(m, p);
        double logDetM = 0;
        for (int i = 0; i < p; i++) logDetM += 2 * Math.Log(chol[i * p + i]);
        double constant = -0.5 * (d * Math.Log(2 * Math.PI) + (d - p) * Math.Log(noise) + logDetM);

        int n = data.Count;
        var result = new double[n];
        var rows = new int[Math.Max(1, Math.Min(512, n))];
        var x = new float[rows.Length * d];
        var t = new double[p];
        for (int start = 0; start < n; start += rows.Length)
        {
            int count = Load(data, start, rows, x, random);
            for (int r = 0; r < count; r++)
            {
                double rr = 0;
                Array.Clear(t);
                for (int j = 0; j < d; j++)
                {
                    double res = (double)x[r * d + j] - decoder.Bias.Value[0, j];
                    rr += res * res;
                    for (int i = 0; i < p; i++) t[i] += w[j * p + i] * res;
                }
                // t^T M^-1 t = |L^-1 t|^2
                double q = 0;
                for (int i = 0; i < p; i++)
                {
                    double s = t[i];
                    for (int k = 0; k < i; k++) s -= chol[i * p + k] * t[k];
                    t[i] = s / chol[i * p + i];
                    q += t[i] * t[i];
                }
                result[start + r] = constant - 0.5 * (rr - q) / noise;
            }
        }
        return result;
    }

    /// <summary>Lower-triangular L with L L^T = <paramref name="a"/> (symmetric positive definite, [n x n]).</summary>
    private static double[] Cholesky(double[] a, int n)
    {
        var l = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
                if (i == j)
                {
                    if (!(s > 0)) throw new ArithmeticException("W^T W + sigma^2 I is not positive definite.");
                    l[i * n + i] = Math.Sqrt(s);
                }
                else l[i * n + j] = s / l[j * n + j];
            }
        return l;
    }

    /// <summary>
    /// The mean-image baseline: every image of <paramref name="test"/> predicted by the mean image of
    /// <paramref name="train"/>. Squared error, and the exact log-likelihood under N(mean, sigma^2 I) with sigma^2 the
    /// training data's mean per-pixel variance (PPCA with no components). One entry for all images, then with
    /// <paramref name="byClass"/> one per label.
    /// </summary>
    public static IReadOnlyList<ReconstructionMetrics> MeanImageBaseline(IDataset train, IDataset test, bool byClass = false, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        if (train.Features != test.Features)
            throw new ShapeMismatchException($"The training data ({train.Description}) has rows of {train.Features} values but the data ({test.Description}) has {test.Features}.");
        if (train.Count == 0 || test.Count == 0) throw new ArgumentException("The mean-image baseline needs training and test images.");
        int d = train.Features;
        var mean = new double[d];
        double sumSq = 0;
        ForEachRow(train, cancellation, (_, x) => { for (int j = 0; j < d; j++) mean[j] += x[j]; });
        for (int j = 0; j < d; j++) mean[j] /= train.Count;
        ForEachRow(train, cancellation, (_, x) => { for (int j = 0; j < d; j++) sumSq += (x[j] - mean[j]) * (x[j] - mean[j]); });
        double noise = sumSq / ((double)train.Count * d);
        if (!(noise > 0)) throw new ArgumentException($"Every image of the training data ({train.Description}) is the same, so the baseline's variance is 0.");

        var groups = new SortedDictionary<int, (int Count, double Se, double Ll, double Ll2)>();
        (int Count, double Se, double Ll, double Ll2) all = default;
        double constant = -0.5 * d * Math.Log(2 * Math.PI * noise);
        ForEachRow(test, cancellation, (i, x) =>
        {
            double se = 0;
            for (int j = 0; j < d; j++) se += (x[j] - mean[j]) * (x[j] - mean[j]);
            double ll = constant - 0.5 * se / noise;
            all = (all.Count + 1, all.Se + se, all.Ll + ll, all.Ll2 + ll * ll);
            if (byClass)
            {
                int label = test.GetLabel(i);
                groups.TryGetValue(label, out var g);
                groups[label] = (g.Count + 1, g.Se + se, g.Ll + ll, g.Ll2 + ll * ll);
            }
        });
        static ReconstructionMetrics Entry(int? label, (int Count, double Se, double Ll, double Ll2) s)
        {
            double ll = s.Ll / s.Count;
            double variance = s.Count > 1 ? Math.Max(0, (s.Ll2 - s.Count * ll * ll) / (s.Count - 1)) : 0;
            return new ReconstructionMetrics
            {
                Label = label, Count = s.Count, MeanSquaredError = s.Se / s.Count, Kl = 0, Elbo = ll,
                LogLikelihood = ll, LogLikelihoodStandardError = Math.Sqrt(variance / s.Count),
            };
        }
        var result = new List<ReconstructionMetrics> { Entry(null, all) };
        foreach (var (label, s) in groups) result.Add(Entry(label < 0 ? null : label, s));
        return result;
    }

    private static void ForEachRow(IDataset data, CancellationToken cancellation, Action<int, float[]> body)
    {
        int d = data.Features;
        var rows = new int[Math.Min(512, data.Count)];
        var chunk = new float[rows.Length * d];
        var x = new float[d];
        var random = new RandomSource(1); // only Bernoulli-sampled data draws from it
        for (int start = 0; start < data.Count; start += rows.Length)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = Load(data, start, rows, chunk, random);
            for (int r = 0; r < count; r++)
            {
                Array.Copy(chunk, r * d, x, 0, d);
                body(start + r, x);
            }
        }
    }
}
