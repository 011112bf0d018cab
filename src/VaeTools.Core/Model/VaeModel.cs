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
/// A second engine's network for a model (the Torch engine): it holds the live weights; the model's managed parameters
/// are a copy, refreshed by <see cref="SyncToModel"/> (after training) and pushed back by <see cref="SyncFromModel"/>.
/// </summary>
public interface IModelBackend : IDisposable
{
    string Engine { get; }
    string Device { get; }
    /// <summary>The engine's network (the Torch engine: a TorchSharp torch.nn.Module).</summary>
    object Module { get; }
    /// <summary>Copies the backend's weights into the model's managed parameters.</summary>
    void SyncToModel(VaeModel model);
    /// <summary>Copies the model's managed parameters into the backend's weights.</summary>
    void SyncFromModel(VaeModel model);
    /// <summary>
    /// This engine's training step for <paramref name="model"/> (driven by <see cref="VaeTrainer"/>); its random streams
    /// are split from <paramref name="root"/> after the loop's.
    /// </summary>
    ITrainingStep CreateTrainingStep(VaeModel model, TrainingOptions options, RandomSource root);
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
        if (config.Architecture == VaeTools.Model.Architecture.Conv)
        {
            (Parameters, _layers, _convs) = BuildConv(config, random, out var encoderConv, out var decoderConv);
            EncoderConv = encoderConv;
            DecoderConv = decoderConv;
            EncoderHidden = DecoderHidden = Array.Empty<LinearLayer>();
            EncoderMean = _layers.GetValueOrDefault("encoder.mean");
            EncoderLogVariance = _layers.GetValueOrDefault("encoder.logvar");
            DecoderInput = _layers["decoder.input"];
            DecoderLogVariance = Parameters.FirstOrDefault(q => q.Name == "decoder.logvar");
            return;
        }
        _convs = new Dictionary<string, ConvLayer>(StringComparer.Ordinal);
        EncoderConv = DecoderConv = Array.Empty<ConvLayer>();
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
        var layers = new Dictionary<string, LinearLayer>(StringComparer.Ordinal);
        for (int i = 0; i < EncoderHidden.Length; i++) layers[$"encoder.hidden.{i}"] = EncoderHidden[i];
        if (EncoderMean is not null) { layers["encoder.mean"] = EncoderMean; layers["encoder.logvar"] = EncoderLogVariance!; }
        for (int i = 0; i < DecoderHidden.Length; i++) layers[$"decoder.hidden.{i}"] = DecoderHidden[i];
        layers["decoder.output"] = DecoderOutput;
        _layers = layers;
    }

    /// <summary>The conv architecture: Conv2d layers, linear heads; a linear layer, then transposed convolutions to the image.</summary>
    private static (List<Parameter>, Dictionary<string, LinearLayer>, Dictionary<string, ConvLayer>) BuildConv(VaeConfig config, RandomSource random,
        out ConvLayer[] encoderConv, out ConvLayer[] decoderConv)
    {
        var plan = ConvPlan.For(config);
        var all = new List<Parameter>();
        var layers = new Dictionary<string, LinearLayer>(StringComparer.Ordinal);
        var convs = new Dictionary<string, ConvLayer>(StringComparer.Ordinal);
        encoderConv = Array.Empty<ConvLayer>();
        if (!config.DecoderOnly)
        {
            encoderConv = new ConvLayer[plan.Encoder.Length];
            for (int i = 0; i < plan.Encoder.Length; i++)
            {
                var c = encoderConv[i] = ConvLayer.Create($"encoder.conv.{i}", plan.Encoder[i], transposed: false, config, random);
                convs[$"encoder.conv.{i}"] = c;
                all.AddRange(new[] { c.Weight, c.Bias });
            }
            foreach (var head in new[] { "encoder.mean", "encoder.logvar" })
            {
                var l = layers[head] = LinearLayer.Create(head, plan.FlatFeatures, config.LatentDim, config, random);
                all.AddRange(new[] { l.Weight, l.Bias });
            }
        }
        var input = layers["decoder.input"] = LinearLayer.Create("decoder.input", config.LatentDim, plan.FlatFeatures, config, random);
        all.AddRange(new[] { input.Weight, input.Bias });
        decoderConv = new ConvLayer[plan.Decoder.Length];
        for (int i = 0; i < plan.Decoder.Length; i++)
        {
            var c = decoderConv[i] = ConvLayer.Create($"decoder.deconv.{i}", plan.Decoder[i], transposed: true, config, random);
            convs[$"decoder.deconv.{i}"] = c;
            all.AddRange(new[] { c.Weight, c.Bias });
        }
        if (config.Likelihood == Likelihood.GaussianSharedVariance)
            all.Add(new Parameter("decoder.logvar", new Tensor(1, 1)));
        return (all, layers, convs);
    }

    private readonly Dictionary<string, ConvLayer> _convs;

    /// <summary>The convolution named as in the model file without ".weight"/".bias" (e.g. "encoder.conv.0").</summary>
    public ConvLayer Conv(string name) =>
        _convs.TryGetValue(name, out var layer) ? layer
        : throw new KeyNotFoundException($"The model has no convolution '{name}'. It has: {(_convs.Count == 0 ? "none" : string.Join(", ", _convs.Keys))}.");

    /// <summary>Conv models: the encoder's Conv2d layers, input side first (empty for MLPs and decoder-only models).</summary>
    public ConvLayer[] EncoderConv { get; }
    /// <summary>Conv models: the decoder's ConvTranspose2d layers, latent side first (empty for MLPs).</summary>
    public ConvLayer[] DecoderConv { get; }
    /// <summary>Conv models: the linear layer from z to the last convolution's feature maps ("decoder.input"); null for MLPs.</summary>
    public LinearLayer? DecoderInput { get; }

    /// <summary>
    /// The shape of parameter <paramref name="name"/> in model files and in torch.nn: [out, in] for linear weights, [Cout, Cin, k, k]
    /// for Conv2d weights, [Cin, Cout, k, k] for ConvTranspose2d weights, [out] for biases.
    /// </summary>
    public int[] FileDims(string name)
    {
        if (name.EndsWith(".weight", StringComparison.Ordinal) && _convs.TryGetValue(name[..^".weight".Length], out var conv)) return conv.FileDims;
        var (rows, cols) = FileShape(name);
        return name.EndsWith(".bias", StringComparison.Ordinal) ? new[] { rows * cols } : new[] { rows, cols };
    }

    private readonly Dictionary<string, LinearLayer> _layers;

    /// <summary>The linear layer named as in the model file without ".weight"/".bias" (e.g. "encoder.hidden.0").</summary>
    public LinearLayer Layer(string name) =>
        _layers.TryGetValue(name, out var layer) ? layer
        : throw new KeyNotFoundException($"The model has no layer '{name}'. It has: {string.Join(", ", _layers.Keys)}.");

    /// <summary>
    /// The weight or bias <paramref name="name"/> in the file layout (PyTorch's [out x in] for weights), whatever layout
    /// the managed engine holds it in. The one way parameters leave and enter this engine (files, the Torch engine).
    /// </summary>
    public Tensor ReadParameter(string name)
    {
        var p = GetParameter(name);
        return p.InputMajor ? p.Value.Transpose() : p.Value.Clone();
    }

    /// <summary>Sets the parameter <paramref name="name"/> from values in the file layout (see <see cref="ReadParameter"/>).</summary>
    public void WriteParameter(string name, ReadOnlySpan<float> fileLayout)
    {
        var p = GetParameter(name);
        if (fileLayout.Length != p.Value.Length)
            throw new ShapeMismatchException($"Parameter '{name}' has {p.Value.Length} values; got {fileLayout.Length}.");
        if (p.InputMajor) p.Value.CopyFrom(new Tensor(p.Value.Cols, p.Value.Rows, fileLayout.ToArray()).Transpose());
        else fileLayout.CopyTo(p.Value.Span);
    }

    /// <summary>The file-layout shape [rows, cols] of parameter <paramref name="name"/>.</summary>
    public (int Rows, int Cols) FileShape(string name)
    {
        var p = GetParameter(name);
        return p.InputMajor ? (p.Value.Cols, p.Value.Rows) : (p.Value.Rows, p.Value.Cols);
    }

    /// <summary>
    /// The engine the model runs on besides its managed parameters: null for the managed engine, else the Torch engine's
    /// network (VaeTools.Torch), which owns the live weights; <see cref="IModelBackend.SyncToModel"/> copies them here.
    /// </summary>
    public IModelBackend? Backend { get; set; }

    /// <summary>"Managed" or "Torch".</summary>
    public string Engine => Backend?.Engine ?? "Managed";

    /// <summary>The Torch engine's torch.nn.Module (null on the managed engine), to use with TorchSharp directly.</summary>
    public object? Module => Backend?.Module;

    /// <summary>"cpu", or the Torch engine's device (e.g. "cuda:0").</summary>
    public string Device => Backend?.Device ?? "cpu";

    public VaeConfig Config { get; }
    public IReadOnlyList<Parameter> Parameters { get; }
    public LinearLayer[] EncoderHidden { get; }
    public LinearLayer? EncoderMean { get; }
    public LinearLayer? EncoderLogVariance { get; }
    public LinearLayer[] DecoderHidden { get; }
    /// <summary>MLP models: the last decoder layer; null for conv models (their last layer is <see cref="DecoderConv"/>).</summary>
    public LinearLayer? DecoderOutput { get; }
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
        other.Backend?.SyncToModel(other);
        CopyParametersFrom(other);
        Backend?.SyncFromModel(this);
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

    public override string ToString() => $"VaeModel {Config}, {ParameterCount} parameters, {History.Count} epochs trained" + (Backend is null ? "" : $", {Engine} engine on {Device}");
}
