using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>
/// A linear layer's two parameters: weight [out x in] (PyTorch's layout) and bias [1 x out]. The layer fed
/// with data and the decoder's output layer hold their weight input-major, [in x out]
/// (<see cref="Graph.InputMajorLinear"/>: zero inputs skipped, a faster weight gradient); files still store [out x in].
/// </summary>
public sealed record LinearLayer(Parameter Weight, Parameter Bias)
{
    public bool InputMajor => Weight.InputMajor;
    public int In => InputMajor ? Weight.Value.Rows : Weight.Value.Cols;
    public int Out => InputMajor ? Weight.Value.Cols : Weight.Value.Rows;

    /// <summary>Skip zero inputs (the layer fed with data; input-major only).</summary>
    public bool SkipZeroInputs { get; private init; }

    internal static LinearLayer Create(string name, int inputs, int outputs, VaeConfig config, RandomSource random, bool inputMajor = false, bool skipZeroInputs = false)
    {
        var weight = inputMajor ? new Tensor(inputs, outputs) : new Tensor(outputs, inputs);
        var layer = new LinearLayer(new Parameter(name + ".weight", weight, inputMajor), new Parameter(name + ".bias", new Tensor(1, outputs)))
        {
            SkipZeroInputs = inputMajor && skipZeroInputs,
        };
        if (config.Initialization == Initialization.Normal) Init.Normal(layer.Weight.Value, layer.Bias.Value, config.InitStd, random);
        else Init.PyTorchDefault(layer.Weight.Value, layer.Bias.Value, random, fanIn: inputs);
        return layer;
    }

    public Node Apply(Graph g, Node x) => InputMajor
        ? g.InputMajorLinear(x, g.Param(Weight), g.Param(Bias), SkipZeroInputs)
        : g.Linear(x, g.Param(Weight), g.Param(Bias));
}

/// <summary>
/// A variational autoencoder: an MLP encoder to (mu, log sigma^2), the reparameterised sample
/// z = mu + sigma eps, and an MLP decoder to the parameters of p(x | z). Holds the parameters,
/// the configuration and the training history. Graph construction is in VaeModel.Graphs.cs,
/// inference in VaeModel.Inference.cs.
/// </summary>
public sealed partial class VaeModel
{
    private readonly List<EpochRecord> _history = new();

    public VaeModel(VaeConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var random = new RandomSource(config.Seed);
        var hidden = config.HiddenDims;

        // Encoder: D -> h1 -> ... -> hn, then two heads hn -> P (mean, log-variance).
        int width = config.InputDim;
        if (!config.DecoderOnly)
        {
            EncoderHidden = new LinearLayer[hidden.Length];
            for (int i = 0; i < hidden.Length; i++)
            {
                // The first layer sees the data: input-major, so zero pixels cost nothing.
                EncoderHidden[i] = LinearLayer.Create($"encoder.hidden.{i}", width, hidden[i], config, random, inputMajor: i == 0, skipZeroInputs: i == 0);
                width = hidden[i];
            }
            EncoderMean = LinearLayer.Create("encoder.mean", width, config.LatentDim, config, random);
            EncoderLogVariance = LinearLayer.Create("encoder.logvar", width, config.LatentDim, config, random);
        }
        else EncoderHidden = Array.Empty<LinearLayer>();

        // Decoder mirrors the encoder: P -> hn -> ... -> h1 -> D (or 2D: mean and log std per pixel).
        width = config.LatentDim;
        DecoderHidden = new LinearLayer[hidden.Length];
        for (int i = 0; i < hidden.Length; i++)
        {
            int w = hidden[hidden.Length - 1 - i];
            DecoderHidden[i] = LinearLayer.Create($"decoder.hidden.{i}", width, w, config, random);
            width = w;
        }
        int outWidth = config.Likelihood == Likelihood.GaussianPerDimensionVariance ? 2 * config.InputDim : config.InputDim;
        // Input-major: its weight gradient is the faster product that way (see InputMajorLinearNode).
        DecoderOutput = LinearLayer.Create("decoder.output", width, outWidth, config, random, inputMajor: true);
        if (config.Likelihood == Likelihood.GaussianSharedVariance)
            DecoderLogVariance = new Parameter("decoder.logvar", new Tensor(1, 1)); // log sigma^2 = 0 at the start

        var all = new List<Parameter>();
        foreach (var l in EncoderHidden) all.AddRange(new[] { l.Weight, l.Bias });
        if (EncoderMean is not null) all.AddRange(new[] { EncoderMean.Weight, EncoderMean.Bias, EncoderLogVariance!.Weight, EncoderLogVariance.Bias });
        foreach (var l in DecoderHidden) all.AddRange(new[] { l.Weight, l.Bias });
        all.AddRange(new[] { DecoderOutput.Weight, DecoderOutput.Bias });
        if (DecoderLogVariance is not null) all.Add(DecoderLogVariance);
        Parameters = all;
    }

    public VaeConfig Config { get; }
    public IReadOnlyList<Parameter> Parameters { get; }
    public LinearLayer[] EncoderHidden { get; }
    public LinearLayer? EncoderMean { get; }
    public LinearLayer? EncoderLogVariance { get; }
    public LinearLayer[] DecoderHidden { get; }
    public LinearLayer DecoderOutput { get; }
    /// <summary>The shared log sigma^2 of <see cref="Likelihood.GaussianSharedVariance"/>, else null.</summary>
    public Parameter? DecoderLogVariance { get; }

    /// <summary>One record per completed training epoch, across every training run of this model.</summary>
    public IReadOnlyList<EpochRecord> History => _history;

    /// <summary>Per-batch loss records (Invoke-VaeTraining -LogInterval), of completed epochs only.</summary>
    public IReadOnlyList<BatchRecord> BatchHistory => _batchHistory;
    private readonly List<BatchRecord> _batchHistory = new();

    internal void AppendBatchHistory(IEnumerable<BatchRecord> records) => _batchHistory.AddRange(records);
    internal void ReplaceBatchHistory(IEnumerable<BatchRecord> records)
    {
        _batchHistory.Clear();
        _batchHistory.AddRange(records);
    }

    /// <summary>Total number of trainable values.</summary>
    public long ParameterCount => Parameters.Sum(p => (long)p.Value.Length);

    // Summary properties: what the PowerShell views show, so Where-Object, Sort-Object and Select-Object see them too.

    /// <summary>The configuration in one line, e.g. "784-400-20 Relu Bernoulli" (<see cref="VaeConfig.ToString"/>).</summary>
    public string Architecture => Config.ToString();

    /// <summary>Epochs trained so far (the length of <see cref="History"/>).</summary>
    public int Epochs => _history.Count;

    /// <summary>Training loss of the last epoch, or null before any training.</summary>
    public double? TrainLoss => _history.Count > 0 ? _history[^1].TrainLoss : null;

    /// <summary>Validation loss of the last epoch, or null (never trained, or trained without validation data).</summary>
    public double? TestLoss => _history.Count > 0 ? _history[^1].TestLoss : null;

    /// <summary>The seed the initial weights were drawn with (<see cref="VaeConfig.Seed"/>).</summary>
    public ulong Seed => Config.Seed;

    internal void AppendHistory(EpochRecord record) => _history.Add(record);
    internal void ReplaceHistory(IEnumerable<EpochRecord> records)
    {
        _history.Clear();
        _history.AddRange(records);
    }

    public Parameter GetParameter(string name) =>
        Parameters.FirstOrDefault(p => p.Name == name)
        ?? throw new KeyNotFoundException($"The model has no parameter '{name}'. It has: {string.Join(", ", Parameters.Select(p => p.Name))}.");

    /// <summary>A deep copy (parameters, history); shares nothing with this model.</summary>
    public VaeModel Clone()
    {
        var copy = new VaeModel(Config);
        copy.CopyParametersFrom(this);
        copy.ReplaceHistory(_history);
        copy.ReplaceBatchHistory(_batchHistory);
        return copy;
    }

    public void CopyParametersFrom(VaeModel other)
    {
        if (!other.Config.Equals(Config)) throw new ArgumentException($"Cannot copy parameters from a {other.Config} model into a {Config} model.");
        for (int i = 0; i < Parameters.Count; i++) Parameters[i].Value.CopyFrom(other.Parameters[i].Value);
    }

    /// <summary>Makes this model <paramref name="other"/>'s state (weights and history), in place: resuming a checkpoint into a given model.</summary>
    public void LoadStateFrom(VaeModel other)
    {
        if (ReferenceEquals(other, this)) return;
        CopyParametersFrom(other);
        ReplaceHistory(other.History);
        ReplaceBatchHistory(other.BatchHistory);
    }

    /// <summary>Throws <see cref="ShapeMismatchException"/> when data rows are not this model's input width.</summary>
    public void CheckInputWidth(int width, string what)
    {
        if (width != Config.InputDim)
            throw new ShapeMismatchException($"{what} has rows of {width} values, but this model takes inputs of width {Config.InputDim} ({Config}).");
    }

    private readonly object _trainingGate = new();
    private int _trainingThread, _trainingDepth;

    /// <summary>
    /// Takes the model for one training until the lease is disposed: training writes its weights and history, so two
    /// at once would corrupt it. The thread that holds it may take it again (a cmdlet that loads a checkpoint into the
    /// model, then trains it); any other thread gets a <see cref="ModelInUseException"/> at once.
    /// </summary>
    public IDisposable BeginTraining()
    {
        int me = Environment.CurrentManagedThreadId;
        lock (_trainingGate)
        {
            if (_trainingDepth > 0 && _trainingThread != me)
                throw new ModelInUseException($"The model ({this}) is being trained by another thread or runspace. A model trains one run at a time; train a copy (its Clone() method, or Import-Vae of its file) or wait for the other training to end.");
            _trainingThread = me;
            _trainingDepth++;
        }
        return new TrainingLease(this);
    }

    /// <summary>Whether a training holds the model now.</summary>
    public bool IsTraining { get { lock (_trainingGate) return _trainingDepth > 0; } }

    private sealed class TrainingLease(VaeModel model) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (model._trainingGate) model._trainingDepth--;
        }
    }

    public override string ToString() => $"VaeModel {Config}, {ParameterCount} parameters, {History.Count} epochs trained";
}
