using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Model;

/// <summary>The decoder's output: the mean (Bernoulli: the logits) and, for Gaussians, the log-variance.</summary>
public readonly record struct DecoderHead<T>(T Mean, T? LogVariance) where T : class;

/// <summary>The values a loss is built from; per-row values are per sample row (K rows per image).</summary>
public sealed record LossParts<T>(T Loss, T MeanNode, T LogLikelihood, T? Kl, T? BetaKl, int Samples, int MeanRowsPerImage, T? LogWeights) where T : class;

/// <summary>
/// The model and its objectives, written once against the engine seam <see cref="IVaeOps{T}"/>: the encoder, the
/// reparameterised sample, the decoder and every likelihood, the priors, the K-sample ELBO with beta, the IWAE bound and
/// the decoder-only marginal likelihood. Both engines run exactly this code.
/// </summary>
public sealed class VaeMath<T> where T : class
{
    public VaeMath(VaeConfig config, IVaeOps<T> ops)
    {
        Config = config;
        Ops = ops;
    }

    public VaeConfig Config { get; }
    public IVaeOps<T> Ops { get; }

    private ConvPlan? _plan;
    /// <summary>The layer shapes of a conv model.</summary>
    private ConvPlan Plan => _plan ??= ConvPlan.For(Config);

    /// <summary>log 2 pi.</summary>
    public static readonly double Log2Pi = Math.Log(2 * Math.PI);

    private T Activate(T x) => Config.Activation switch
    {
        Activation.Relu => Ops.Relu(x),
        Activation.LeakyRelu => Ops.LeakyRelu(x, Config.LeakySlope),
        Activation.Tanh => Ops.Tanh(x),
        Activation.Elu => Ops.Elu(x),
        Activation.Softplus => Ops.Softplus(x),
        _ => throw new InvalidOperationException($"Unknown activation {Config.Activation}."),
    };

    /// <summary>x [B x D] -> (mu, log sigma^2), each [B x P].</summary>
    public (T Mean, T LogVariance) Encoder(T x)
    {
        if (Config.DecoderOnly)
            throw new InvalidOperationException("This is a decoder-only model: it has no encoder, so it cannot encode images. Train it by its marginal likelihood, and sample from it with New-VaeSample.");
        var h = x;
        if (Config.Architecture == Architecture.Conv) // [B x C*H*W] -> ... -> [B x C_last*h*w], flattened as it is
            for (int i = 0; i < Plan.Encoder.Length; i++) h = Activate(Ops.Conv2d(h, $"encoder.conv.{i}", Plan.Encoder[i]));
        else
            for (int i = 0; i < Config.HiddenDims.Length; i++) h = Activate(Ops.Linear(h, $"encoder.hidden.{i}"));
        return (Ops.Linear(h, "encoder.mean"), Ops.Linear(h, "encoder.logvar"));
    }

    /// <summary>z [N x P] -> the parameters of p(x | z).</summary>
    public DecoderHead<T> Decoder(T z)
    {
        T output;
        if (Config.Architecture == Architecture.Conv)
        {
            // z [N x P] -> [N x C_last*h*w] (feature maps, channel-major) -> transposed convolutions -> [N x C*H*W]
            // (2C channels for a per-pixel variance: the C mean channels, then the C log std channels).
            output = Activate(Ops.Linear(z, "decoder.input"));
            for (int i = 0; i < Plan.Decoder.Length; i++)
            {
                output = Ops.ConvTranspose2d(output, $"decoder.deconv.{i}", Plan.Decoder[i]);
                if (i < Plan.Decoder.Length - 1) output = Activate(output);
            }
        }
        else
        {
            var h = z;
            for (int i = 0; i < Config.HiddenDims.Length; i++) h = Activate(Ops.Linear(h, $"decoder.hidden.{i}"));
            output = Ops.Linear(h, "decoder.output");
        }
        int d = Config.InputDim;
        switch (Config.Likelihood)
        {
            case Likelihood.Bernoulli:
                return new DecoderHead<T>(output, null); // logits
            case Likelihood.GaussianSharedVariance:
                return new DecoderHead<T>(MaybeSigmoid(output), Ops.Parameter("decoder.logvar"));
            case Likelihood.GaussianUnitVariance:
                return new DecoderHead<T>(MaybeSigmoid(output), Ops.Constant("zero log-variance", 1, 1, 0f));
            case Likelihood.GaussianPerDimensionVariance:
                var mean = MaybeSigmoid(Ops.ColumnSlice(output, 0, d));
                var logStd = Ops.ColumnSlice(output, d, d);
                return new DecoderHead<T>(mean, Ops.Scale(logStd, 2f)); // log sigma^2 = 2 log sigma
            default:
                throw new InvalidOperationException($"Unknown likelihood {Config.Likelihood}.");
        }
    }

    private T MaybeSigmoid(T mean) => Config.SigmoidMean ? Ops.Sigmoid(mean) : mean;

    /// <summary>The decoder's mean image: sigmoid(logits) for Bernoulli, the Gaussian mean otherwise.</summary>
    public T MeanImage(DecoderHead<T> head) => Config.Likelihood == Likelihood.Bernoulli ? Ops.Sigmoid(head.Mean) : head.Mean;

    /// <summary>log p(x | z) per row, [N x 1].</summary>
    public T LogLikelihood(DecoderHead<T> head, T x) =>
        Config.Likelihood == Likelihood.Bernoulli
            ? Ops.BernoulliLogLikelihood(head.Mean, x)
            : Ops.GaussianLogDensity(x, head.Mean, head.LogVariance!);

    /// <summary>log p(z) per row under the prior, [N x 1].</summary>
    public T LogPrior(T z)
    {
        int p = Config.LatentDim;
        if (Config.Prior == Prior.Laplace)
        {
            float tau = Config.LaplaceScale; // log p = sum_d -log(2 tau) - |z_d| / tau
            return Ops.AddScalar(Ops.Scale(Ops.Sum(Ops.Abs(z), Axis.Columns), -1f / tau), (float)(-p * Math.Log(2 * tau)));
        }
        // log N(z; 0, I) = -1/2 |z|^2 - P/2 log 2pi
        return Ops.AddScalar(Ops.Scale(Ops.Sum(Ops.Square(z), Axis.Columns), -0.5f), (float)(-0.5 * p * Log2Pi));
    }

    /// <summary>z = mu + sigma eps with eps ~ N(0, I) from the engine's noise.</summary>
    public T Reparameterize(T mean, T logVariance)
    {
        var eps = Ops.Normal(mean, Config.LatentDim);
        return Ops.Add(mean, Ops.Multiply(Ops.Exp(Ops.Scale(logVariance, 0.5f)), eps));
    }

    /// <summary>
    /// KL(N(mu_d, sigma_d^2) || N(0, 1)) of each latent dimension, [N x P]: 1/2 (e^v + mu^2 - 1 - v). Its row sums are
    /// the closed-form KL of the standard normal prior (<see cref="IVaeOps{T}.KlStandardNormal"/>, which fuses them); the
    /// latent analysis reads it per dimension. Needs no model, only the ops.
    /// </summary>
    public static T KlPerDimension(IVaeOps<T> ops, T mean, T logVariance) =>
        ops.Scale(ops.AddScalar(ops.Subtract(ops.Add(ops.Exp(logVariance), ops.Square(mean)), logVariance), -1f), 0.5f);

    /// <summary>KL(q(z|x) || p(z)) per row: closed form for the standard normal prior, else log q(z|x) - log p(z) at z.</summary>
    public T Kl(T mean, T logVariance, T z, T? logQ) =>
        Config.Prior == Prior.StandardNormal
            ? Ops.KlStandardNormal(mean, logVariance)
            : Ops.Subtract(logQ ?? Ops.GaussianLogDensity(z, mean, logVariance), LogPrior(z));

    /// <summary>
    /// The training loss. ELBO: mean over images and samples of beta KL - log p(x|z).
    /// IWAE: -mean over images of log 1/K sum_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)).
    /// Decoder-only models: -mean log 1/K sum_k p(x | z_k), z_k ~ p(z) shared by the batch.
    /// </summary>
    public LossParts<T> Loss(T x, Objective objective, int samples, float beta)
    {
        if (samples <= 0) throw new ArgumentOutOfRangeException(nameof(samples), samples, "The number of samples must be positive.");
        if (Config.DecoderOnly) return DecoderOnlyLoss(x, Config.PriorSamples);

        var (mu, logVar) = Encoder(x);
        T xs = x, mus = mu, lvs = logVar;
        if (samples > 1) // K copies of each image's posterior: row k*B + b is sample k of image b
        {
            xs = Ops.RepeatRows(x, samples);
            mus = Ops.RepeatRows(mu, samples);
            lvs = Ops.RepeatRows(logVar, samples);
        }
        var z = Reparameterize(mus, lvs);
        var logLik = LogLikelihood(Decoder(z), xs);   // [K*B x 1]
        var logQ = Config.Prior == Prior.StandardNormal && objective == Objective.Elbo ? null : Ops.GaussianLogDensity(z, mus, lvs);
        var kl = Kl(mus, lvs, z, logQ);

        if (objective == Objective.Elbo)
        {
            var betaKl = Ops.Scale(kl, beta);
            var mean = Ops.Mean(Ops.Subtract(betaKl, logLik));
            return new LossParts<T>(mean, mean, logLik, kl, betaKl, samples, samples, null);
        }
        // log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x); bound = logsumexp_k log w_k - log K
        var logW = Ops.Subtract(Ops.Add(logLik, LogPrior(z)), logQ!);
        var bound = Ops.AddScalar(Ops.LogSumExp(Ops.Reshape(logW, samples, -1), Axis.Rows), -(float)Math.Log(samples)); // [1 x B]
        var boundMean = Ops.Mean(bound);
        return new LossParts<T>(Ops.Negate(boundMean), boundMean, logLik, kl, null, samples, 1, logW);
    }

    /// <summary>The decoder-only model's loss with <paramref name="priorSamples"/> samples z_k ~ p(z) shared by the batch.</summary>
    public LossParts<T> DecoderOnlyLoss(T x, int priorSamples)
    {
        int k = priorSamples, d = Config.InputDim;
        var z = Config.Prior == Prior.Laplace ? Ops.Laplace(k, Config.LatentDim, Config.LaplaceScale) : Ops.Normal(k, Config.LatentDim);
        var head = Decoder(z); // [K x D]
        T pairwise; // log p(x_b | z_k), [B x K]
        if (Config.Likelihood == Likelihood.Bernoulli)
        {
            // sum_d x_d l_kd - softplus(l_kd) = (x . l_k) - rowsum(softplus(l))_k
            var spSum = Ops.Reshape(Ops.Sum(Ops.Softplus(head.Mean), Axis.Columns), 1, k);
            pairwise = Ops.Subtract(Ops.MatMulTransposeB(x, head.Mean), spSum);
        }
        else
        {
            // -1/2 sum_d [log 2pi + v_kd + (x_d - m_kd)^2 e^{-v_kd}], expanded so it is built from products:
            // (x^2) . e^{-v_k} - 2 x . (m_k e^{-v_k}) + rowsum(m^2 e^{-v})_k + rowsum(v)_k
            var v = head.LogVariance!;
            var m = head.Mean;
            bool shared = Ops.IsScalar(v); // a shared (or unit) variance: one value for every pixel
            T inv = Ops.Exp(Ops.Negate(v));
            if (shared) inv = Ops.Multiply(Ops.Constant("ones", k, d, 1f), inv); // broadcast a shared variance to [K x D]
            var vSum = shared ? Ops.Scale(v, d) : Ops.Sum(v, Axis.Columns);       // [1x1] or [K x 1]
            var quad = Ops.Add(
                Ops.Subtract(Ops.MatMulTransposeB(Ops.Square(x), inv), Ops.Scale(Ops.MatMulTransposeB(x, Ops.Multiply(m, inv)), 2f)),
                Ops.Reshape(Ops.Sum(Ops.Multiply(Ops.Square(m), inv), Axis.Columns), 1, k));
            var perK = shared ? vSum : Ops.Reshape(vSum, 1, k);
            pairwise = Ops.AddScalar(Ops.Scale(Ops.Add(quad, perK), -0.5f), (float)(-0.5 * d * Log2Pi));
        }
        var logPx = Ops.AddScalar(Ops.LogSumExp(pairwise, Axis.Columns), -(float)Math.Log(k)); // [B x 1]
        var meanLogPx = Ops.Mean(logPx);
        return new LossParts<T>(Ops.Negate(meanLogPx), meanLogPx, logPx, null, null, 1, 1, pairwise);
    }
}
