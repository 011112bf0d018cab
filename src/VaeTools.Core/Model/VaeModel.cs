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
        var layers = new Dictionary<string, LinearLayer>(StringComparer.Ordinal);
        for (int i = 0; i < EncoderHidden.Length; i++) layers[$"encoder.hidden.{i}"] = EncoderHidden[i];
        if (EncoderMean is not null) { layers["encoder.mean"] = EncoderMean; layers["encoder.logvar"] = EncoderLogVariance!; }
        for (int i = 0; i < DecoderHidden.Length; i++) layers[$"decoder.hidden.{i}"] = DecoderHidden[i];
        layers["decoder.output"] = DecoderOutput;
        _layers = layers;
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
    public LinearLayer DecoderOutput { get; }
    /// <summary>The shared log sigma^2 of <see cref="Likelihood.GaussianSharedVariance"/>, else null.</summary>
    public Parameter? DecoderLogVariance { get; }

    /// <summary>One record per completed training epoch, across every training run of this model.</summary>
    public IReadOnlyList<EpochRecord> History => _history;

    /// <summary>Total number of trainable values.</summary>
    public long ParameterCount => Parameters.Sum(p => (long)p.Value.Length);

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
        return copy;
    }

    public void CopyParametersFrom(VaeModel other)
    {
        if (!other.Config.Equals(Config)) throw new ArgumentException($"Cannot copy parameters from a {other.Config} model into a {Config} model.");
        for (int i = 0; i < Parameters.Count; i++) Parameters[i].Value.CopyFrom(other.Parameters[i].Value);
    }

    /// <summary>Throws <see cref="ShapeMismatchException"/> when data rows are not this model's input width.</summary>
    public void CheckInputWidth(int width, string what)
    {
        if (width != Config.InputDim)
            throw new ShapeMismatchException($"{what} has rows of {width} values, but this model takes inputs of width {Config.InputDim} ({Config}).");
    }

    public override string ToString() => $"VaeModel {Config}, {ParameterCount} parameters, {History.Count} epochs trained" + (Backend is null ? "" : $", {Engine} engine on {Device}");
}
