using System.Text.Json;
using System.Text.Json.Serialization;
using VaeTools.Data;

namespace VaeTools.Model;

/// <summary>The network between images and latents.</summary>
public enum Architecture
{
    /// <summary>Fully connected layers (<see cref="VaeConfig.HiddenDims"/>), the decoder mirroring the encoder.</summary>
    Mlp,
    /// <summary>
    /// Convolutions: Conv2d layers of stride 2 (<see cref="VaeConfig.ConvChannels"/>, <see cref="VaeConfig.KernelSize"/>),
    /// then linear heads for mu and log sigma^2; the decoder a linear layer then transposed convolutions back to the image.
    /// </summary>
    Conv,
}

/// <summary>Hidden-layer nonlinearity.</summary>
public enum Activation { Relu, LeakyRelu, Tanh, Elu, Softplus }

/// <summary>The decoder's distribution p(x | z) (spec: Model, decoder kinds 1-4).</summary>
public enum Likelihood
{
    /// <summary>Bernoulli with logits; log p = sum x l - softplus(l).</summary>
    Bernoulli,
    /// <summary>Gaussian with one learned variance shared by all pixels (scalar log sigma^2, starts at 0).</summary>
    GaussianSharedVariance,
    /// <summary>Gaussian whose decoder outputs a mean and a log std per pixel (last layer width 2D).</summary>
    GaussianPerDimensionVariance,
    /// <summary>Gaussian with unit variance (1/2 squared error + constant).</summary>
    GaussianUnitVariance,
}

/// <summary>The prior p(z).</summary>
public enum Prior { StandardNormal, Laplace }

/// <summary>How linear layers start.</summary>
public enum Initialization
{
    /// <summary>PyTorch's nn.Linear default: weight and bias uniform in +-1/sqrt(fan_in).</summary>
    PyTorchDefault,
    /// <summary>Weights N(0, InitStd^2), biases zero.</summary>
    Normal,
}

/// <summary>
/// Everything that defines a model's architecture. Saved with the weights, so a loaded model is
/// rebuilt exactly. Validate() explains any bad value.
/// </summary>
public sealed record VaeConfig
{
    public int InputDim { get; init; } = 784;
    /// <summary>Mlp (the default, not written to model files) or Conv.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Architecture Architecture { get; init; } = Architecture.Mlp;
    /// <summary>Conv: the encoder's channels per Conv2d layer, input side first (each halves the image); the decoder mirrors them.</summary>
    public int[] ConvChannels { get; init; } = { 32, 64 };
    /// <summary>Conv: the k of every k x k kernel (stride 2, padding 1).</summary>
    public int KernelSize { get; init; } = 4;
    /// <summary>Encoder hidden widths, input side first; the decoder mirrors them.</summary>
    public int[] HiddenDims { get; init; } = { 400 };
    public int LatentDim { get; init; } = 20;
    public Activation Activation { get; init; } = Activation.Relu;
    public Likelihood Likelihood { get; init; } = Likelihood.Bernoulli;
    /// <summary>For Gaussian likelihoods: pass the decoder mean through a sigmoid (restricts it to (0, 1)).</summary>
    public bool SigmoidMean { get; init; }
    /// <summary>Weight of the KL term in the loss (beta-VAE); 0 gives a plain autoencoder.</summary>
    public float Beta { get; init; } = 1f;
    public Initialization Initialization { get; init; } = Initialization.PyTorchDefault;
    /// <summary>Standard deviation for <see cref="Initialization.Normal"/>.</summary>
    public float InitStd { get; init; } = 0.01f;
    public ulong Seed { get; init; } = 1;
    public Prior Prior { get; init; } = Prior.StandardNormal;
    /// <summary>Scale tau of the Laplace prior.</summary>
    public float LaplaceScale { get; init; } = 1f;
    /// <summary>No encoder: log p(x) is estimated from <see cref="PriorSamples"/> samples of z ~ p(z) shared by the batch.</summary>
    public bool DecoderOnly { get; init; }
    /// <summary>K for the decoder-only model's Monte Carlo marginal likelihood.</summary>
    public int PriorSamples { get; init; } = 5;
    /// <summary>Slope of LeakyReLU for negative inputs.</summary>
    public float LeakySlope { get; init; } = 0.01f;
    /// <summary>
    /// The shape of an input image (channels x height x width, channel-major), taken from the data set the model
    /// was made for; its Size equals <see cref="InputDim"/>. Null (not written to model files) when unknown: then
    /// <see cref="GetImageShape"/> assumes 1 x 28 x 28 for 784 inputs. Pictures use it to draw colour images.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImageShape? ImageShape { get; init; }

    /// <summary><see cref="ImageShape"/>, or 1 x 28 x 28 when it is null and <see cref="InputDim"/> is 784, else null.</summary>
    public ImageShape? GetImageShape() => ImageShape ?? (InputDim == 784 ? Data.ImageShape.Mnist : null);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting and what is allowed.</summary>
    public void Validate()
    {
        if (InputDim <= 0) throw Bad(nameof(InputDim), InputDim, "a positive width");
        if (HiddenDims is null) throw Bad(nameof(HiddenDims), "null", "an array of positive widths (it may be empty)");
        for (int i = 0; i < HiddenDims.Length; i++)
            if (HiddenDims[i] <= 0) throw Bad($"{nameof(HiddenDims)}[{i}]", HiddenDims[i], "a positive width");
        if (LatentDim <= 0) throw Bad(nameof(LatentDim), LatentDim, "a positive size");
        if (!(Beta >= 0) || !float.IsFinite(Beta)) throw Bad(nameof(Beta), Beta, "a finite number >= 0");
        if (Initialization == Initialization.Normal && (!(InitStd > 0) || !float.IsFinite(InitStd))) throw Bad(nameof(InitStd), InitStd, "a positive number");
        if (Prior == Prior.Laplace && (!(LaplaceScale > 0) || !float.IsFinite(LaplaceScale))) throw Bad(nameof(LaplaceScale), LaplaceScale, "a positive number");
        if (DecoderOnly && PriorSamples <= 0) throw Bad(nameof(PriorSamples), PriorSamples, "a positive number of samples");
        if (ImageShape is not null && ImageShape.Size != InputDim)
            throw Bad(nameof(ImageShape), ImageShape, $"a shape of InputDim = {InputDim} values (channels x height x width), or none");
        if (!Enum.IsDefined(Architecture)) throw Bad(nameof(Architecture), Architecture, string.Join(", ", Enum.GetNames<Architecture>()));
        if (Architecture == Architecture.Conv)
        {
            if (HiddenDims.Length != 0)
                throw Bad(nameof(HiddenDims), string.Join(",", HiddenDims), "no hidden widths for Architecture Conv (its hidden layers are ConvChannels)");
            if (GetImageShape() is null)
                throw Bad(nameof(ImageShape), "unknown", $"the channels x height x width of the {InputDim} inputs, which Architecture Conv needs (make the model from a data set)");
            if (ConvChannels is null || ConvChannels.Length == 0) throw Bad(nameof(ConvChannels), "empty", "one or more channel counts");
            for (int i = 0; i < ConvChannels.Length; i++)
                if (ConvChannels[i] <= 0) throw Bad($"{nameof(ConvChannels)}[{i}]", ConvChannels[i], "a positive channel count");
            if (KernelSize < 2 || KernelSize > 7) throw Bad(nameof(KernelSize), KernelSize, "a kernel size from 2 to 7");
            ConvPlan.For(this); // throws when the image is too small for the layers
        }
        if (!Enum.IsDefined(Activation)) throw Bad(nameof(Activation), Activation, string.Join(", ", Enum.GetNames<Activation>()));
        if (!Enum.IsDefined(Likelihood)) throw Bad(nameof(Likelihood), Likelihood, string.Join(", ", Enum.GetNames<Likelihood>()));
    }

    private static ArgumentException Bad(string name, object value, string expected) =>
        new($"VaeConfig.{name} is {value}; expected {expected}.", name);

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        Converters = { new JsonStringEnumConverter() },
        // Histories may hold NaN (e.g. the KL an IWAE run does not compute) or infinities: written as the JSON
        // strings "NaN", "Infinity", "-Infinity" and read back as the same values.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = false,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static VaeConfig FromJson(string json)
    {
        var config = JsonSerializer.Deserialize<VaeConfig>(json, JsonOptions)
            ?? throw new JsonException("The model configuration is empty.");
        config.Validate();
        return config;
    }

    /// <summary>e.g. "784-400-20 Relu Bernoulli".</summary>
    public override string ToString() => Architecture == Architecture.Conv
        ? $"{GetImageShape()!.Channels}x{GetImageShape()!.Height}x{GetImageShape()!.Width}-conv{string.Join("-", ConvChannels)}k{KernelSize}-{LatentDim} {Activation} {Likelihood}{(DecoderOnly ? " decoder-only" : "")}"
        : $"{InputDim}-{string.Join("-", HiddenDims.Append(LatentDim))} {Activation} {Likelihood}{(DecoderOnly ? " decoder-only" : "")}";

    // Records compare arrays by reference; compare HiddenDims by value.
    public bool Equals(VaeConfig? other) => other is not null && ToJson() == other.ToJson();
    public override int GetHashCode() => ToJson().GetHashCode();
}
