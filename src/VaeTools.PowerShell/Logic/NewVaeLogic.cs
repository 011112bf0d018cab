using VaeTools.Data;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of New-Vae.</summary>
public sealed class NewVaeParameters
{
    public int LatentDim { get; set; } = 20;
    public int[] HiddenDim { get; set; } = { 400 };
    public string Activation { get; set; } = nameof(Model.Activation.Relu);
    public string Likelihood { get; set; } = nameof(Model.Likelihood.Bernoulli);
    public double Beta { get; set; } = 1;
    /// <summary>When set, weights start N(0, InitStd^2) with zero biases; otherwise PyTorch's default.</summary>
    public double? InitStd { get; set; }
    /// <summary>Null: a fresh seed, recorded in the model's Config.Seed.</summary>
    public ulong? Seed { get; set; }
    /// <summary>Null: 784, or the width of a data set piped in.</summary>
    public int? InputDim { get; set; }
}

/// <summary>New-Vae: one model per pipeline data set (sized to it), or one model when nothing is piped in.</summary>
public sealed class NewVaeLogic
{
    private readonly NewVaeParameters _p;
    private readonly ulong _seed;

    public NewVaeLogic(NewVaeParameters parameters)
    {
        _p = parameters;
        _seed = parameters.Seed ?? (ulong)Random.Shared.NextInt64(1, long.MaxValue);
    }

    /// <summary>The configuration for inputs of <paramref name="inputDim"/> values.</summary>
    public VaeConfig BuildConfig(int inputDim) => new()
    {
        InputDim = inputDim,
        HiddenDims = (int[])_p.HiddenDim.Clone(),
        LatentDim = _p.LatentDim,
        Activation = EnumParameter.Parse<Activation>(_p.Activation, nameof(_p.Activation)),
        Likelihood = EnumParameter.Parse<Likelihood>(_p.Likelihood, nameof(_p.Likelihood)),
        Beta = (float)_p.Beta,
        Initialization = _p.InitStd is null ? Initialization.PyTorchDefault : Initialization.Normal,
        InitStd = _p.InitStd is double s ? (float)s : 0.01f,
        Seed = _seed,
    };

    /// <summary>Emits a model for <paramref name="data"/> (null when nothing was piped in).</summary>
    public void Process(ICommandSink sink, IDataset? data)
    {
        int width = _p.InputDim ?? data?.Features ?? 784;
        if (data is not null && _p.InputDim is int given && given != data.Features)
        {
            sink.WriteError(new CommandError("WidthMismatch", ErrorKind.InvalidArgument, data,
                new ArgumentException($"-InputDim {given} does not match the data piped in ({data.Description}), whose images have {data.Features} values. Leave -InputDim out to size the model to the data.", "InputDim")));
            return;
        }
        VaeModel model;
        try
        {
            model = new VaeModel(BuildConfig(width));
        }
        catch (CommandException e) { sink.WriteError(e.Error); return; }
        catch (ArgumentException e)
        {
            sink.WriteError(Errors.From(e, "InvalidModelConfiguration", _p));
            return;
        }
        sink.WriteVerbose($"Created {model}, seed {model.Config.Seed}.");
        sink.WriteObject(model);
    }
}
