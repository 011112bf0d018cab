using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>Posterior parameters of many images: mean and log-variance, each [N x P].</summary>
public sealed record LatentEncoding(Tensor Mean, Tensor LogVariance)
{
    /// <summary>Input nodes "mean" and "logvar" of <paramref name="g"/> holding these rows ([N x P] each).</summary>
    public (InputNode Mean, InputNode LogVariance) Inputs(Graph g)
    {
        var mean = g.Input("mean", Mean.Cols);
        var logVar = g.Input("logvar", LogVariance.Cols);
        Mean.Span.CopyTo(mean.SetRows(Mean.Rows).Span);
        LogVariance.Span.CopyTo(logVar.SetRows(LogVariance.Rows).Span);
        return (mean, logVar);
    }
}

// Encode, decode and sample. Inference graphs are built once per model and reused; calls are serialised.
public sealed partial class VaeModel
{
    private readonly object _inferenceLock = new();
    private (Graph Graph, InputNode X, Node Mean, Node LogVariance)? _encoder;
    private (Graph Graph, InputNode Z, Node MeanImage, Node? LogVariance)? _decoder;

    /// <summary>Threads used by inference; results do not depend on it. Internal: not part of a model's public surface.</summary>
    internal WorkerPool InferencePool { get; set; } = WorkerPool.Single;

    /// <summary>mu(x) and log sigma^2(x) for every row of <paramref name="data"/>, in batches.</summary>
    public LatentEncoding Encode(IDataset data, int batchSize = 1000, RandomSource? random = null)
    {
        CheckInputWidth(data.Features, $"The data ({data.Description})");
        int n = data.Count, p = Config.LatentDim;
        var mean = new Tensor(n, p);
        var logVar = new Tensor(n, p);
        var rows = new int[Math.Max(1, Math.Min(batchSize, n))];
        lock (_inferenceLock)
        {
            var enc = EncoderGraph();
            for (int start = 0; start < n; start += rows.Length)
            {
                int count = Math.Min(rows.Length, n - start);
                for (int i = 0; i < count; i++) rows[i] = start + i;
                data.CopyRows(rows.AsSpan(0, count), enc.X.SetRows(count).Span, random);
                enc.Graph.Forward(enc.Mean);
                enc.Graph.Forward(enc.LogVariance);
                enc.Mean.Value.Span.CopyTo(mean.Span.Slice(start * p, count * p));
                enc.LogVariance.Value.Span.CopyTo(logVar.Span.Slice(start * p, count * p));
            }
        }
        return new LatentEncoding(mean, logVar);
    }

    /// <summary>Encodes the rows of a tensor ([N x InputDim]).</summary>
    public LatentEncoding Encode(Tensor x) => Encode(new TensorDataset(x, labels: null));

    /// <summary>
    /// z = mu + sigma eps for each row: one draw from q(z | x), by the model's one definition
    /// (<see cref="VaeMath{T}.Reparameterize"/>, the training step's); eps is drawn from <paramref name="random"/> row by row.
    /// </summary>
    public Tensor SampleLatent(LatentEncoding encoding, RandomSource random)
    {
        ArgumentNullException.ThrowIfNull(encoding);
        ArgumentNullException.ThrowIfNull(random);
        int n = encoding.Mean.Rows, p = Config.LatentDim;
        if (encoding.Mean.Cols != p || encoding.LogVariance.Rows != n || encoding.LogVariance.Cols != p)
            throw new ShapeMismatchException($"An encoding of means {encoding.Mean.Shape} and log-variances {encoding.LogVariance.Shape} does not fit this model's latent size {p}.");
        var g = new Graph(WorkerPool.Single, random);
        var (mean, logVar) = encoding.Inputs(g);
        var z = BuildReparameterize(g, mean, logVar);
        g.Forward(z);
        return new Tensor(n, p, z.Value.Span.ToArray());
    }

    /// <summary>
    /// Decodes latent codes [N x P] to images [N x D]: the decoder's mean (Bernoulli: sigmoid of the logits),
    /// or, with <paramref name="samplePixels"/>, a draw from p(x | z) (Bernoulli pixels 0/1; Gaussian mean + sigma eps).
    /// </summary>
    public Tensor Decode(Tensor z, bool samplePixels = false, RandomSource? random = null)
    {
        if (z.Cols != Config.LatentDim)
            throw new ShapeMismatchException($"Latent codes {z.Shape} do not fit this model's latent size {Config.LatentDim}.");
        if (samplePixels && random is null) throw new ArgumentNullException(nameof(random), "Sampling pixels needs a random source.");
        var result = new Tensor(z.Rows, Config.InputDim);
        const int batch = 1000;
        lock (_inferenceLock)
        {
            var dec = DecoderGraph();
            for (int start = 0; start < z.Rows; start += batch)
            {
                int count = Math.Min(batch, z.Rows - start);
                z.Span.Slice(start * z.Cols, count * z.Cols).CopyTo(dec.Z.SetRows(count).Span);
                dec.Graph.Forward(dec.MeanImage);
                var outSpan = result.Span.Slice(start * Config.InputDim, count * Config.InputDim);
                dec.MeanImage.Value.Span.CopyTo(outSpan);
                if (!samplePixels) continue;
                if (Config.Likelihood == Likelihood.Bernoulli)
                {
                    for (int i = 0; i < outSpan.Length; i++) outSpan[i] = random!.NextDouble() < outSpan[i] ? 1f : 0f;
                }
                else
                {
                    dec.Graph.Forward(dec.LogVariance!);
                    var lv = dec.LogVariance!.Value;
                    for (int i = 0; i < outSpan.Length; i++)
                    {
                        float v = lv.Length == 1 ? lv.Span[0] : lv.Span[i];
                        outSpan[i] += MathF.Exp(0.5f * v) * (float)random!.NextGaussian();
                    }
                }
            }
        }
        return result;
    }

    /// <summary>
    /// <paramref name="count"/> codes from the prior at temperature t (N(0, t^2 I), or Laplace(0, t tau)).
    /// </summary>
    public Tensor SamplePrior(int count, float temperature, RandomSource random)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The number of samples must be positive.");
        if (!(temperature > 0) || !float.IsFinite(temperature)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be a positive finite number.");
        var z = new Tensor(count, Config.LatentDim);
        if (Config.Prior == Prior.Laplace) random.FillLaplace(z.Span, temperature * Config.LaplaceScale);
        else random.FillNormal(z.Span, 0f, temperature);
        return z;
    }

    /// <summary>Draws codes from the prior and decodes them (see <see cref="Decode"/>).</summary>
    public Tensor Sample(int count, float temperature, RandomSource random, bool samplePixels = false) =>
        Decode(SamplePrior(count, temperature, random), samplePixels, random);

    private (Graph Graph, InputNode X, Node Mean, Node LogVariance) EncoderGraph()
    {
        if (_encoder is { } e) { e.Graph.Pool = InferencePool; return e; }
        var g = new Graph(InferencePool);
        var x = g.Input("x", Config.InputDim);
        var (mean, logVar) = BuildEncoder(g, x);
        _encoder = (g, x, mean, logVar);
        return _encoder.Value;
    }

    private (Graph Graph, InputNode Z, Node MeanImage, Node? LogVariance) DecoderGraph()
    {
        if (_decoder is { } d) { d.Graph.Pool = InferencePool; return d; }
        var g = new Graph(InferencePool);
        var z = g.Input("z", Config.LatentDim);
        var head = BuildDecoder(g, z);
        _decoder = (g, z, MeanImage(g, head), head.LogVariance);
        return _decoder.Value;
    }
}
