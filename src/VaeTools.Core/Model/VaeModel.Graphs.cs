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

// The model's graphs: the maths is VaeMath (written once for both engines), recorded here into a managed Graph.
public sealed partial class VaeModel
{
    private VaeMath<Node> Maths(Graph g) => new(Config, new GraphOps(g, this));

    /// <summary>x [B x D] -> (mu, log sigma^2), each [B x P].</summary>
    public (Node Mean, Node LogVariance) BuildEncoder(Graph g, Node x) => Maths(g).Encoder(x);

    /// <summary>z [N x P] -> the parameters of p(x | z).</summary>
    public DecoderHead<Node> BuildDecoder(Graph g, Node z) => Maths(g).Decoder(z);

    /// <summary>The decoder's mean image: sigmoid(logits) for Bernoulli, the Gaussian mean otherwise.</summary>
    public Node MeanImage(Graph g, DecoderHead<Node> head) => Maths(g).MeanImage(head);

    /// <summary>log p(x | z) per row, [N x 1].</summary>
    public Node BuildLogLikelihood(Graph g, DecoderHead<Node> head, Node x) => Maths(g).LogLikelihood(head, x);

    /// <summary>log p(z) per row under the prior, [N x 1].</summary>
    public Node BuildLogPrior(Graph g, Node z) => Maths(g).LogPrior(z);

    /// <summary>z = mu + sigma eps, eps ~ N(0, I) from the graph's noise (<see cref="VaeMath{T}.Reparameterize"/>).</summary>
    public Node BuildReparameterize(Graph g, Node mean, Node logVariance) => Maths(g).Reparameterize(mean, logVariance);

    /// <summary>KL(q(z|x) || p(z)) per row at the sample z (<see cref="VaeMath{T}.Kl"/>: closed form for the standard normal prior).</summary>
    public Node BuildKl(Graph g, Node mean, Node logVariance, Node z) => Maths(g).Kl(mean, logVariance, z, null);

    /// <summary>The training loss graph (see <see cref="VaeMath{T}.Loss"/>).</summary>
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
        return Wrap(g, x, Maths(g).Loss(x, objective, samples, Config.Beta));
    }

    /// <summary>
    /// The decoder-only model's loss graph with <paramref name="priorSamples"/> samples z_k ~ p(z) shared by the batch
    /// (the model's own PriorSamples when null).
    /// </summary>
    public LossGraph BuildDecoderOnlyLossGraph(int? priorSamples = null, WorkerPool? pool = null, RandomSource? random = null)
    {
        if (!Config.DecoderOnly) throw new InvalidOperationException("This model has an encoder; use BuildLossGraph.");
        var g = new Graph(pool, random);
        var x = g.Input("x", Config.InputDim);
        return Wrap(g, x, Maths(g).DecoderOnlyLoss(x, priorSamples ?? Config.PriorSamples));
    }

    private static LossGraph Wrap(Graph g, InputNode x, LossParts<Node> parts) =>
        new(g, x, (SumNode)parts.MeanNode, parts.Loss, parts.LogLikelihood, parts.Kl, (UnaryNode?)parts.BetaKl, parts.Samples, parts.MeanRowsPerImage, parts.LogWeights);
}
