using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>New-Vae: creates an untrained model, sized to a data set piped in or to -InputDim (default 784).</summary>
[Cmdlet(VerbsCommon.New, "Vae", HelpUri = HelpUri)]
[OutputType(typeof(VaeModel))]
public sealed class NewVaeCommand : VaeCmdlet
{
    private NewVaeLogic? _logic;

    [Parameter(ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? Data { get; set; }

    [Parameter(Position = 0)]
    [ValidateRange(1, 4096)]
    public int LatentDim { get; set; } = 20;

    [Parameter]
    [AllowEmptyCollection]
    [ValidateRange(1, 65536)]
    public int[] HiddenDim { get; set; } = { 400 };

    /// <summary>Mlp (fully connected, the default) or Conv (Conv2d layers of stride 2, transposed convolutions back).</summary>
    [Parameter]
    [ValidateSet("Mlp", "Conv")]
    public string Architecture { get; set; } = "Mlp";

    /// <summary>-Architecture Conv: channels of each Conv2d layer, input side first (default 32, 64).</summary>
    [Parameter]
    [ValidateCount(1, 8)]
    [ValidateRange(1, 4096)]
    public int[] ConvChannels { get; set; } = { 32, 64 };

    /// <summary>-Architecture Conv: the k of the k x k kernels (default 4).</summary>
    [Parameter]
    [ValidateRange(2, 7)]
    public int KernelSize { get; set; } = 4;

    [Parameter]
    [ValidateSet("Relu", "LeakyRelu", "Tanh", "Elu", "Softplus")]
    public string Activation { get; set; } = "Relu";

    [Parameter]
    [ValidateSet("Bernoulli", "GaussianSharedVariance", "GaussianPerDimensionVariance", "GaussianUnitVariance")]
    public string Likelihood { get; set; } = "Bernoulli";

    [Parameter]
    public SwitchParameter SigmoidMean { get; set; }

    [Parameter]
    public SwitchParameter DecoderOnly { get; set; }

    [Parameter]
    [ValidateRange(1, 100000)]
    public int PriorSamples { get; set; } = 5;

    [Parameter]
    [ValidateSet("StandardNormal", "Laplace")]
    public string Prior { get; set; } = "StandardNormal";

    [Parameter]
    [ValidateRange(1e-6, 1000000.0)]
    public double LaplaceScale { get; set; } = 1.0;

    [Parameter]
    [ValidateRange(0.0, 1000000.0)]
    public double Beta { get; set; } = 1.0;

    [Parameter]
    [ValidateRange(1e-9, 10.0)]
    public double InitStd { get; set; } = 0.01;

    [Parameter]
    public ulong Seed { get; set; }

    [Parameter]
    [ValidateRange(1, 16777216)]
    public int InputDim { get; set; } = 784;

    /// <summary>Managed (the default, no native library) or Torch (TorchSharp/libtorch).</summary>
    [Parameter]
    [ValidateSet("Managed", "Torch")]
    public string Engine { get; set; } = "Managed";

    /// <summary>cpu (default), cuda or cuda:N; cuda implies -Engine Torch.</summary>
    [Parameter]
    [ValidatePattern("^(?i)(cpu|cuda|cuda:[0-9]+)$")]
    public string Device { get; set; } = "cpu";

    protected override void BeginProcessing() => Run(() => _logic = new NewVaeLogic(new NewVaeParameters
    {
        LatentDim = LatentDim,
        HiddenDim = IsBound(nameof(HiddenDim)) ? HiddenDim ?? Array.Empty<int>() : null,
        Architecture = Architecture,
        ConvChannels = IsBound(nameof(ConvChannels)) ? ConvChannels : null,
        KernelSize = IsBound(nameof(KernelSize)) ? KernelSize : null,
        Activation = Activation,
        Likelihood = Likelihood,
        SigmoidMean = SigmoidMean,
        DecoderOnly = DecoderOnly,
        PriorSamples = IsBound(nameof(PriorSamples)) ? PriorSamples : null,
        Prior = Prior,
        LaplaceScale = IsBound(nameof(LaplaceScale)) ? LaplaceScale : null,
        Beta = Beta,
        InitStd = IsBound(nameof(InitStd)) ? InitStd : null,
        Seed = IsBound(nameof(Seed)) ? Seed : null,
        InputDim = IsBound(nameof(InputDim)) ? InputDim : null,
        Engine = IsBound(nameof(Engine)) ? Engine : null,
        Device = Device,
    }));

    protected override void ProcessRecord() => Run(() => _logic!.Process(this, Data));
}
