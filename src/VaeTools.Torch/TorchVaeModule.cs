using Tensor = TorchSharp.torch.Tensor;
using Parameter = TorchSharp.Modules.Parameter;
using TorchSharp;
using TorchSharp.Modules;
using VaeTools.Engine;
using VaeTools.Model;
using static TorchSharp.torch;

namespace VaeTools.Torch;

/// <summary>
/// A VaeTools model as a real torch.nn.Module: submodules "encoder" (hidden.N, mean, logvar) and "decoder"
/// (hidden.N, output, and the shared log-variance parameter "logvar"), so its state_dict names are exactly the model
/// file's tensor names, in PyTorch's [out x in] layout. <c>forward(x)</c> is the training loss (the ELBO, one sample)
/// of a batch; the model maths is <see cref="VaeMath{T}"/>, the same code the managed engine runs.
/// </summary>
public sealed class TorchVaeModule : nn.Module<Tensor, Tensor>
{
    private readonly Dictionary<string, Linear> _layers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Parameter> _extraParameters = new(StringComparer.Ordinal);

    /// <summary>A named container of submodules and parameters.</summary>
    private sealed class Part : nn.Module
    {
        public Part(string name) : base(name) { }
        public void AddModule(string name, nn.Module module) => register_module(name, module);
        public void AddParameter(string name, Parameter parameter) => register_parameter(name, parameter);
    }

    public TorchVaeModule(VaeConfig config, Device device) : base("VaeModel")
    {
        Config = config;
        Device = device;
        Part decoder;
        if (config.Architecture == Architecture.Conv) decoder = BuildConv(config);
        else
        {
            var hidden = config.HiddenDims;
            int width = config.InputDim;
            if (!config.DecoderOnly)
            {
                var encoder = new Part("encoder");
                var layers = new List<Linear>();
                for (int i = 0; i < hidden.Length; i++)
                {
                    layers.Add(AddLayer($"encoder.hidden.{i}", width, hidden[i]));
                    width = hidden[i];
                }
                encoder.AddModule("hidden", nn.ModuleList(layers.ToArray()));
                encoder.AddModule("mean", AddLayer("encoder.mean", width, config.LatentDim));
                encoder.AddModule("logvar", AddLayer("encoder.logvar", width, config.LatentDim));
                register_module("encoder", encoder);
            }
            decoder = new Part("decoder");
            width = config.LatentDim;
            var dlayers = new List<Linear>();
            for (int i = 0; i < hidden.Length; i++)
            {
                int w = hidden[hidden.Length - 1 - i];
                dlayers.Add(AddLayer($"decoder.hidden.{i}", width, w));
                width = w;
            }
            decoder.AddModule("hidden", nn.ModuleList(dlayers.ToArray()));
            int outWidth = config.Likelihood == Likelihood.GaussianPerDimensionVariance ? 2 * config.InputDim : config.InputDim;
            decoder.AddModule("output", AddLayer("decoder.output", width, outWidth));
        }
        if (config.Likelihood == Likelihood.GaussianSharedVariance)
        {
            var logvar = new Parameter(zeros(1, 1, dtype: float32));
            decoder.AddParameter("logvar", logvar);
            _extraParameters["decoder.logvar"] = logvar;
        }
        register_module("decoder", decoder);
        if (device.type != DeviceType.CPU) this.to(device);
        // Moving replaced the parameter objects: look them up again by name.
        var named = named_parameters().ToDictionary(p => p.name, p => p.parameter);
        if (_extraParameters.ContainsKey("decoder.logvar")) _extraParameters["decoder.logvar"] = named["decoder.logvar"];
        NoiseRandom = new RandomSource(config.Seed);
    }

    /// <summary>
    /// The conv architecture as torch.nn modules: encoder.conv (a ModuleList of nn.Conv2d), encoder.mean/logvar (nn.Linear);
    /// decoder.input (nn.Linear), decoder.deconv (a ModuleList of nn.ConvTranspose2d). Returns the decoder part.
    /// </summary>
    private Part BuildConv(VaeConfig config)
    {
        var plan = ConvPlan.For(config);
        if (!config.DecoderOnly)
        {
            var encoder = new Part("encoder");
            var convs = new List<nn.Module<Tensor, Tensor>>();
            for (int i = 0; i < plan.Encoder.Length; i++)
            {
                var g = plan.Encoder[i];
                var conv = nn.Conv2d(g.InChannels, g.OutChannels, g.Kernel, stride: g.Stride, padding: g.Padding, bias: true, dtype: float32);
                _convs[$"encoder.conv.{i}"] = conv;
                convs.Add(conv);
            }
            encoder.AddModule("conv", nn.ModuleList(convs.ToArray()));
            encoder.AddModule("mean", AddLayer("encoder.mean", plan.FlatFeatures, config.LatentDim));
            encoder.AddModule("logvar", AddLayer("encoder.logvar", plan.FlatFeatures, config.LatentDim));
            register_module("encoder", encoder);
        }
        var decoder = new Part("decoder");
        decoder.AddModule("input", AddLayer("decoder.input", config.LatentDim, plan.FlatFeatures));
        var deconvs = new List<nn.Module<Tensor, Tensor>>();
        for (int i = 0; i < plan.Decoder.Length; i++)
        {
            var g = plan.Decoder[i];
            var deconv = nn.ConvTranspose2d(g.InChannels, g.OutChannels, g.Kernel, stride: g.Stride, padding: g.Padding,
                output_padding: g.OutputPadding, bias: true, dtype: float32);
            _deconvs[$"decoder.deconv.{i}"] = deconv;
            deconvs.Add(deconv);
        }
        decoder.AddModule("deconv", nn.ModuleList(deconvs.ToArray()));
        return decoder;
    }

    private readonly Dictionary<string, Conv2d> _convs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ConvTranspose2d> _deconvs = new(StringComparer.Ordinal);

    /// <summary>The nn.Conv2d named as in the model file without ".weight"/".bias" (e.g. "encoder.conv.0").</summary>
    public Conv2d Conv(string name) =>
        _convs.TryGetValue(name, out var c) ? c : throw new KeyNotFoundException($"The Torch model has no convolution '{name}'.");

    /// <summary>The nn.ConvTranspose2d named as in the model file without ".weight"/".bias" (e.g. "decoder.deconv.0").</summary>
    public ConvTranspose2d Deconv(string name) =>
        _deconvs.TryGetValue(name, out var c) ? c : throw new KeyNotFoundException($"The Torch model has no transposed convolution '{name}'.");

    private Linear AddLayer(string name, int inputs, int outputs)
    {
        var layer = nn.Linear(inputs, outputs, hasBias: true, dtype: float32);
        _layers[name] = layer;
        return layer;
    }

    public VaeConfig Config { get; }
    public Device Device { get; }

    /// <summary>The noise source of <see cref="forward"/>.</summary>
    public RandomSource NoiseRandom { get; set; }

    /// <summary>The nn.Linear named as in the model file without ".weight"/".bias".</summary>
    public Linear Layer(string name) =>
        _layers.TryGetValue(name, out var l) ? l : throw new KeyNotFoundException($"The Torch model has no layer '{name}'.");

    /// <summary>A parameter by its model-file name (e.g. "decoder.logvar", "encoder.mean.weight").</summary>
    public Parameter GetParameter(string name)
    {
        if (_extraParameters.TryGetValue(name, out var p)) return p;
        foreach (var (n, q) in named_parameters()) if (n == name) return q;
        throw new KeyNotFoundException($"The Torch model has no parameter '{name}'.");
    }

    /// <summary>The ELBO loss (one sample, the model's beta) of a batch x [B x D] on the module's device.</summary>
    public override Tensor forward(Tensor x) =>
        new VaeMath<Tensor>(Config, new TorchOps(this, NoiseRandom)).Loss(x, Objective.Elbo, 1, Config.Beta).Loss;
}
