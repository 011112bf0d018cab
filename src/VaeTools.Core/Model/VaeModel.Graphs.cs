using VaeTools.Engine;
using VaeTools.Engine.Ops;

namespace VaeTools.Model;

/// <summary>What a training step maximises.</summary>
public enum Objective
{
    /// <summary>E_q[log p(x|z)] - beta KL, averaged over K samples of z.</summary>
    Elbo,
    /// <summary>Importance-weighted bound L_K = E[log 1/K sum_k p(x, z_k) / q(z_k | x)].</summary>
    Iwae,
}

/// <summary>The decoder's output: the mean (Bernoulli: the logits) and, for Gaussians, the log-variance.</summary>
public readonly record struct DecoderHead(Node Mean, Node? LogVariance);

/// <summary>The nodes of a built loss graph. All per-row values are per sample row (K rows per image).</summary>
public sealed class LossGraph
{
    internal LossGraph(Graph graph, InputNode data, SumNode mean, Node loss, Node logLikelihood, Node? kl, UnaryNode? betaScale, int samples, int meanRowsPerImage, Node? logWeights = null)
    {
        Graph = graph; Data = data; MeanNode = mean; Loss = loss; LogLikelihood = logLikelihood; Kl = kl; BetaScale = betaScale; Samples = samples;
        MeanRowsPerImage = meanRowsPerImage; LogWeights = logWeights;
    }

    /// <summary>The mean over the batch that the loss ends in.</summary>
    public SumNode MeanNode { get; }

    /// <summary>Rows the final mean averages per image (K for the K-sample ELBO, else 1).</summary>
    public int MeanRowsPerImage { get; }

    /// <summary>
    /// Makes the loss this part's share of a batch of <paramref name="batchImages"/> images split over several
    /// graphs, so the parts' losses and gradients add up to the batch mean; 0 restores the plain mean.
    /// </summary>
    public void SetBatchImages(int batchImages) => MeanNode.Divisor = batchImages <= 0 ? 0 : batchImages * (float)MeanRowsPerImage;

    /// <summary>
    /// IWAE only: log w = log p(x|z) + log p(z) - log q(z|x) per sample row, [K*B x 1] (row k*B + b is sample k of image b).
    /// Decoder-only: log p(x|z_k) for every image and prior sample, [B x K].
    /// </summary>
    public Node? LogWeights { get; }

    public Graph Graph { get; }
    /// <summary>The batch of images, [B x D].</summary>
    public InputNode Data { get; }
    /// <summary>The scalar to minimise: the negative objective per image, averaged over the batch.</summary>
    public Node Loss { get; }
    /// <summary>log p(x | z) per sample row, [K*B x 1]; for a decoder-only model the per-image log p(x) estimate, [B x 1].</summary>
    public Node LogLikelihood { get; }
    /// <summary>KL(q(z|x) || p(z)) per sample row, [K*B x 1] (a one-sample estimate for a Laplace prior); null for decoder-only.</summary>
    public Node? Kl { get; }
    /// <summary>The node that multiplies the KL by beta; its Parameter may be changed between steps (warm-up).</summary>
    public UnaryNode? BetaScale { get; }
    public int Samples { get; }
}

// The model written in the engine's small set of operations.
public sealed partial class VaeModel
{
    private Node Activate(Graph g, Node x) => Config.Activation switch
    {
        Activation.Relu => g.Relu(x),
        Activation.LeakyRelu => g.LeakyRelu(x, Config.LeakySlope),
        Activation.Tanh => g.Tanh(x),
        Activation.Elu => g.Elu(x),
        Activation.Softplus => g.Softplus(x),
        _ => throw new InvalidOperationException($"Unknown activation {Config.Activation}."),
    };

    /// <summary>x [B x D] -> (mu, log sigma^2), each [B x P].</summary>
    public (Node Mean, Node LogVariance) BuildEncoder(Graph g, Node x)
    {
        if (Config.DecoderOnly)
            throw new InvalidOperationException("This is a decoder-only model: it has no encoder, so it cannot encode images. Train it by its marginal likelihood, and sample from it with New-VaeSample.");
        var h = x;
        foreach (var layer in EncoderHidden) h = Activate(g, layer.Apply(g, h));
        return (EncoderMean!.Apply(g, h), EncoderLogVariance!.Apply(g, h));
    }

    /// <summary>z [N x P] -> the parameters of p(x | z).</summary>
    public DecoderHead BuildDecoder(Graph g, Node z)
    {
        var h = z;
        foreach (var layer in DecoderHidden) h = Activate(g, layer.Apply(g, h));
        var output = DecoderOutput.Apply(g, h);
        int d = Config.InputDim;
        switch (Config.Likelihood)
        {
            case Likelihood.Bernoulli:
                return new DecoderHead(output, null); // logits
            case Likelihood.GaussianSharedVariance:
                return new DecoderHead(MaybeSigmoid(g, output), g.Param(DecoderLogVariance!));
            case Likelihood.GaussianUnitVariance:
                return new DecoderHead(MaybeSigmoid(g, output), g.Constant("zero log-variance", 1, 1, 0f));
            case Likelihood.GaussianPerDimensionVariance:
                var mean = MaybeSigmoid(g, g.ColumnSlice(output, 0, d));
                var logStd = g.ColumnSlice(output, d, d);
                return new DecoderHead(mean, g.Scale(logStd, 2f)); // log sigma^2 = 2 log sigma
            default:
                throw new InvalidOperationException($"Unknown likelihood {Config.Likelihood}.");
        }
    }

    private Node MaybeSigmoid(Graph g, Node mean) => Config.SigmoidMean ? g.Sigmoid(mean) : mean;

    /// <summary>The decoder's mean image: sigmoid(logits) for Bernoulli, the Gaussian mean otherwise.</summary>
    public Node MeanImage(Graph g, DecoderHead head) =>
        Config.Likelihood == Likelihood.Bernoulli ? g.Sigmoid(head.Mean) : head.Mean;

    /// <summary>log p(x | z) per row, [N x 1].</summary>
    public Node BuildLogLikelihood(Graph g, DecoderHead head, Node x) =>
        Config.Likelihood == Likelihood.Bernoulli
            ? g.BernoulliLogLikelihood(head.Mean, x)
            : g.GaussianLogDensity(x, head.Mean, head.LogVariance!);

    /// <summary>log p(z) per row under the prior, [N x 1].</summary>
    public Node BuildLogPrior(Graph g, Node z)
    {
        int p = Config.LatentDim;
        if (Config.Prior == Prior.Laplace)
        {
            float tau = Config.LaplaceScale; // log p = sum_d -log(2 tau) - |z_d| / tau
            return g.AddScalar(g.Scale(g.Sum(g.Abs(z), Axis.Columns), -1f / tau), (float)(-p * Math.Log(2 * tau)));
        }
        // log N(z; 0, I) = -1/2 |z|^2 - P/2 log 2pi
        return g.AddScalar(g.Scale(g.Sum(g.Square(z), Axis.Columns), -0.5f), (float)(-0.5 * p * GaussianLogDensityNode.Log2Pi));
    }

    /// <summary>
    /// The training loss graph. ELBO: mean over images and samples of beta KL - log p(x|z).
    /// IWAE: -mean over images of log 1/K sum_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)).
    /// Decoder-only models: -mean log 1/K sum_k p(x | z_k), z_k ~ p(z) shared by the batch.
    /// </summary>
    /// <param name="objective">ELBO (with beta) or the importance-weighted bound.</param>
    /// <param name="samples">K: samples of z per image.</param>
    /// <param name="pool">Threads for the graph's matrix products.</param>
    /// <param name="random">The source the graph's noise draws from.</param>
    /// <param name="substitutes">Stand-ins for this model's parameters (see <see cref="Graph.Substitutes"/>), for data-parallel replicas.</param>
    public LossGraph BuildLossGraph(Objective objective = Objective.Elbo, int samples = 1, WorkerPool? pool = null, RandomSource? random = null,
        IReadOnlyDictionary<Parameter, Parameter>? substitutes = null)
    {
        if (samples <= 0) throw new ArgumentOutOfRangeException(nameof(samples), samples, "The number of samples must be positive.");
        var g = new Graph(pool, random) { Substitutes = substitutes };
        var x = g.Input("x", Config.InputDim);
        if (Config.DecoderOnly) return BuildDecoderOnlyLoss(g, x, Config.PriorSamples);

        var (mu, logVar) = BuildEncoder(g, x);
        Node xs = x, mus = mu, lvs = logVar;
        if (samples > 1) // K copies of each image's posterior: row k*B + b is sample k of image b
        {
            xs = g.RepeatRows(x, samples);
            mus = g.RepeatRows(mu, samples);
            lvs = g.RepeatRows(logVar, samples);
        }
        var eps = g.Normal(mus, Config.LatentDim);
        var z = g.Add(mus, g.Multiply(g.Exp(g.Scale(lvs, 0.5f)), eps)); // z = mu + sigma eps
        var logLik = BuildLogLikelihood(g, BuildDecoder(g, z), xs);   // [K*B x 1]
        var logQ = Config.Prior == Prior.StandardNormal && objective == Objective.Elbo ? null : g.GaussianLogDensity(z, mus, lvs);
        var kl = Config.Prior == Prior.StandardNormal
            ? g.KlStandardNormal(mus, lvs)                              // closed form
            : g.Subtract(logQ!, BuildLogPrior(g, z));                   // one-sample Monte Carlo

        if (objective == Objective.Elbo)
        {
            var betaKl = g.Scale(kl, Config.Beta);
            var mean = g.Mean(g.Subtract(betaKl, logLik));
            return new LossGraph(g, x, mean, mean, logLik, kl, betaKl, samples, samples);
        }
        // log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x); bound = logsumexp_k log w_k - log K
        var logW = g.Subtract(g.Add(logLik, BuildLogPrior(g, z)), logQ!);
        var bound = g.AddScalar(g.LogSumExp(g.Reshape(logW, samples, -1), Axis.Rows), -(float)Math.Log(samples)); // [1 x B]
        var boundMean = g.Mean(bound);
        return new LossGraph(g, x, boundMean, g.Negate(boundMean), logLik, kl, null, samples, 1, logW);
    }

    /// <summary>
    /// The decoder-only model's loss graph with <paramref name="priorSamples"/> samples z_k ~ p(z) shared by the batch
    /// (the model's own PriorSamples when null).
    /// </summary>
    public LossGraph BuildDecoderOnlyLossGraph(int? priorSamples = null, WorkerPool? pool = null, RandomSource? random = null)
    {
        if (!Config.DecoderOnly) throw new InvalidOperationException("This model has an encoder; use BuildLossGraph.");
        var g = new Graph(pool, random);
        return BuildDecoderOnlyLoss(g, g.Input("x", Config.InputDim), priorSamples ?? Config.PriorSamples);
    }

    private LossGraph BuildDecoderOnlyLoss(Graph g, InputNode x, int? priorSamples = null)
    {
        int k = priorSamples ?? Config.PriorSamples, d = Config.InputDim;
        var z = Config.Prior == Prior.Laplace ? g.Laplace(k, Config.LatentDim, Config.LaplaceScale) : g.Normal(k, Config.LatentDim);
        var head = BuildDecoder(g, z); // [K x D]
        Node pairwise; // log p(x_b | z_k), [B x K]
        if (Config.Likelihood == Likelihood.Bernoulli)
        {
            // sum_d x_d l_kd - softplus(l_kd) = (x . l_k) - rowsum(softplus(l))_k
            var spSum = g.Reshape(g.Sum(g.Softplus(head.Mean), Axis.Columns), 1, k);
            pairwise = g.Subtract(g.MatMul(x, head.Mean, transposeB: true), spSum);
        }
        else
        {
            // -1/2 sum_d [log 2pi + v_kd + (x_d - m_kd)^2 e^{-v_kd}], expanded so it is built from products:
            // (x^2) . e^{-v_k} - 2 x . (m_k e^{-v_k}) + rowsum(m^2 e^{-v})_k + rowsum(v)_k
            var v = head.LogVariance!;
            var m = head.Mean;
            // A shared (or unit) variance is a parameter or constant, whose [1 x 1] shape is known while building;
            // other nodes have no shape until the first forward pass, so decide once, from v.
            bool shared = v.Rows == 1 && v.Cols == 1;
            Node inv = g.Exp(g.Negate(v));
            if (shared) inv = g.Multiply(g.Constant("ones", k, d, 1f), inv); // broadcast a shared variance to [K x D]
            var vSum = shared ? g.Scale(v, d) : g.Sum(v, Axis.Columns);       // [1x1] or [K x 1]
            var quad = g.Add(
                g.Subtract(g.MatMul(g.Square(x), inv, transposeB: true), g.Scale(g.MatMul(x, g.Multiply(m, inv), transposeB: true), 2f)),
                g.Reshape(g.Sum(g.Multiply(g.Square(m), inv), Axis.Columns), 1, k));
            var perK = shared ? vSum : g.Reshape(vSum, 1, k);
            pairwise = g.AddScalar(g.Scale(g.Add(quad, perK), -0.5f), (float)(-0.5 * d * GaussianLogDensityNode.Log2Pi));
        }
        var logPx = g.AddScalar(g.LogSumExp(pairwise, Axis.Columns), -(float)Math.Log(k)); // [B x 1]
        var meanLogPx = g.Mean(logPx);
        return new LossGraph(g, x, meanLogPx, g.Negate(meanLogPx), logPx, null, null, 1, 1, pairwise);
    }
}
