using VaeTools.Data;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of New-Vae.</summary>
public sealed class NewVaeParameters
{
    public int LatentDim { get; set; } = 20;
    /// <summary>Null: 400 for the MLP, none for the conv architecture (which does not take hidden widths).</summary>
    public int[]? HiddenDim { get; set; }
    /// <summary>Mlp or Conv.</summary>
    public string Architecture { get; set; } = nameof(Model.Architecture.Mlp);
    /// <summary>Conv: channels per Conv2d layer; null: 32, 64.</summary>
    public int[]? ConvChannels { get; set; }
    /// <summary>Conv: the kernel size; null: 4.</summary>
    public int? KernelSize { get; set; }
    public string Activation { get; set; } = nameof(Model.Activation.Relu);
    public string Likelihood { get; set; } = nameof(Model.Likelihood.Bernoulli);
    /// <summary>Gaussian likelihoods: pass the decoder mean through a sigmoid.</summary>
    public bool SigmoidMean { get; set; }
    /// <summary>No encoder: trained by the Monte Carlo marginal likelihood over <see cref="PriorSamples"/> prior samples.</summary>
    public bool DecoderOnly { get; set; }
    /// <summary>K of the decoder-only model; null: the default (5).</summary>
    public int? PriorSamples { get; set; }
    public string Prior { get; set; } = nameof(Model.Prior.StandardNormal);
    /// <summary>Scale tau of the Laplace prior; null: the default (1).</summary>
    public double? LaplaceScale { get; set; }
    public double Beta { get; set; } = 1;
    /// <summary>When set, weights start N(0, InitStd^2) with zero biases; otherwise PyTorch's default.</summary>
    public double? InitStd { get; set; }
    /// <summary>Null: a fresh seed, recorded in the model's Config.Seed.</summary>
    public ulong? Seed { get; set; }
    /// <summary>Null: 784, or the width of a data set piped in.</summary>
    public int? InputDim { get; set; }
    /// <summary>Managed or Torch; null: Managed, or Torch when <see cref="Device"/> is cuda.</summary>
    public string? Engine { get; set; }
    /// <summary>cpu, cuda or cuda:N (Torch only).</summary>
    public string? Device { get; set; }
}

/// <summary>New-Vae: one model per pipeline data set (sized to it), or one model when nothing is piped in.</summary>
public sealed class NewVaeLogic
{
    private readonly NewVaeParameters _p;
    private readonly ulong _seed;
    private readonly string _engine, _device;

    public NewVaeLogic(NewVaeParameters parameters)
    {
        _p = parameters;
        (_engine, _device) = EngineLogic.Resolve(parameters.Engine, parameters.Device);
        _seed = parameters.Seed ?? (ulong)Random.Shared.NextInt64(1, long.MaxValue);
    }

    /// <summary>The configuration for inputs of <paramref name="inputDim"/> values (images of <paramref name="imageShape"/>, when known).</summary>
    public VaeConfig BuildConfig(int inputDim, ImageShape? imageShape = null)
    {
        var architecture = EnumParameter.Parse<Architecture>(_p.Architecture, nameof(_p.Architecture));
        if (architecture == Model.Architecture.Conv && _p.HiddenDim is { Length: > 0 })
            throw new CommandException(new CommandError("HiddenDimWithConv", ErrorKind.InvalidArgument, _p.HiddenDim,
                new ArgumentException($"-HiddenDim {string.Join(",", _p.HiddenDim)} does not apply to -Architecture Conv: its hidden layers are convolutions, set with -ConvChannels (and -KernelSize). Leave -HiddenDim out.", "HiddenDim")));
        return BuildConfig(inputDim, imageShape, architecture);
    }

    private VaeConfig BuildConfig(int inputDim, ImageShape? imageShape, Architecture architecture) => new()
    {
        InputDim = inputDim,
        ImageShape = imageShape,
        Architecture = architecture,
        HiddenDims = _p.HiddenDim is { } hidden ? (int[])hidden.Clone() : architecture == Model.Architecture.Conv ? Array.Empty<int>() : new[] { 400 },
        ConvChannels = _p.ConvChannels is { } channels ? (int[])channels.Clone() : new VaeConfig().ConvChannels,
        KernelSize = _p.KernelSize ?? new VaeConfig().KernelSize,
        LatentDim = _p.LatentDim,
        Activation = EnumParameter.Parse<Activation>(_p.Activation, nameof(_p.Activation)),
        Likelihood = EnumParameter.Parse<Likelihood>(_p.Likelihood, nameof(_p.Likelihood)),
        SigmoidMean = _p.SigmoidMean,
        DecoderOnly = _p.DecoderOnly,
        PriorSamples = _p.PriorSamples ?? new VaeConfig().PriorSamples,
        Prior = EnumParameter.Parse<Prior>(_p.Prior, nameof(_p.Prior)),
        LaplaceScale = _p.LaplaceScale is double tau ? (float)tau : new VaeConfig().LaplaceScale,
        Beta = (float)_p.Beta,
        Initialization = _p.InitStd is null ? Initialization.PyTorchDefault : Initialization.Normal,
        InitStd = _p.InitStd is double s ? (float)s : 0.01f,
        Seed = _seed,
    };

    /// <summary>Emits a model for <paramref name="data"/> (null when nothing was piped in).</summary>
    public void Process(ICommandSink sink, IDataset? data)
    {
        int width = _p.InputDim ?? data?.Features ?? 784;
        VaeModel model;
        try
        {
            if (data is not null && _p.InputDim is int given) Preconditions.RequireInputDim(given, data);
            model = new VaeModel(BuildConfig(width, data?.ImageShape));
        }
        catch (CommandException e) { sink.WriteError(e.Error); return; }
        catch (ArgumentException e)
        {
            sink.WriteError(Errors.From(e, "InvalidModelConfiguration", _p));
            return;
        }
        EngineLogic.Apply(model, _engine, _device);
        foreach (var warning in Warnings(model.Config)) sink.WriteWarning(warning);
        sink.WriteVerbose($"Created {model}, seed {model.Config.Seed}.");
        sink.WriteDebug($"Configuration: {model.Config.ToJson()}.");
        sink.WriteObject(model);
    }

    /// <summary>Settings given that the configuration ignores (they are kept but do nothing).</summary>
    private IEnumerable<string> Warnings(VaeConfig c)
    {
        if (_p.SigmoidMean && c.Likelihood == Model.Likelihood.Bernoulli)
            yield return "-SigmoidMean has no effect with the Bernoulli likelihood (its mean is always a sigmoid); it applies to the Gaussian likelihoods.";
        if (_p.PriorSamples is not null && !c.DecoderOnly)
            yield return "-PriorSamples has no effect without -DecoderOnly: a model with an encoder draws z from q(z|x).";
        if ((_p.ConvChannels is not null || _p.KernelSize is not null) && c.Architecture != Model.Architecture.Conv)
            yield return "-ConvChannels and -KernelSize have no effect on the MLP architecture; add -Architecture Conv.";
        if (_p.LaplaceScale is not null && c.Prior != Model.Prior.Laplace)
            yield return "-LaplaceScale has no effect with the standard normal prior; add -Prior Laplace.";
    }
}
