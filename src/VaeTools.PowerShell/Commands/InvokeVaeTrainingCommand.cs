using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>
/// Invoke-VaeTraining: trains a model in place and emits it. Model and data both bind from the pipeline by type,
/// so either may be piped in. Ctrl+C, SIGINT and SIGTERM stop after the current batch, leaving the model (and the
/// checkpoint) as of its last completed epoch.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "VaeTraining", SupportsShouldProcess = true, HelpUri = HelpUri)]
[OutputType(typeof(VaeModel))]
public sealed class InvokeVaeTrainingCommand : VaeCmdlet
{
    private TrainingLogic? _logic;

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(VaeModel))]
    public VaeModel? Model { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? Data { get; set; }

    [Parameter]
    [ValidateRange(1, 1000000)]
    public int Epochs { get; set; } = 10;

    [Parameter]
    [ValidateRange(1, 1048576)]
    public int BatchSize { get; set; } = 128;

    [Parameter]
    [ValidateRange(1e-10, 10.0)]
    public double LearningRate { get; set; } = 1e-3;

    [Parameter]
    [ValidateSet("Adam", "Sgd", "Adagrad")]
    public string Optimizer { get; set; } = "Adam";

    [Parameter]
    [DeserializedVaeObject(typeof(IDataset))]
    public IDataset? ValidationData { get; set; }

    [Parameter]
    public ulong Seed { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CheckpointPath { get; set; }

    [Parameter]
    public SwitchParameter Resume { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    [ValidateRange(1, 1000000)]
    public int UntilEpoch { get; set; } = 1; // used only when given (IsBound)

    [Parameter]
    [ValidateSet("Elbo", "Iwae")]
    public string Objective { get; set; } = "Elbo";

    [Parameter]
    [ValidateRange(1, 5000)]
    public int Samples { get; set; } = 1;

    [Parameter]
    [ValidateRange(0, 1000000)]
    public int KlWarmupEpochs { get; set; }

    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Math.Max(1, Environment.ProcessorCount);

    [Parameter]
    [ValidateRange(0, 1000000)]
    public int LogInterval { get; set; }

    [Parameter]
    public ScriptBlock? OnEpoch { get; set; }

    /// <summary>
    /// Runs -OnEpoch with the model and the epoch's record as its two arguments (and the record as $_); an output of
    /// $false stops the training after this epoch.
    /// </summary>
    private bool RunOnEpoch(VaeModel model, EpochRecord record)
    {
        var output = OnEpoch!.InvokeWithContext(null, new List<PSVariable> { new("_", record) }, model, record);
        return !output.Any(o => o?.BaseObject is false);
    }

    protected override void BeginProcessing() => Run(() =>
    {
        if (IsBound(nameof(Epochs)) && IsBound(nameof(UntilEpoch)))
            throw new CommandException(new CommandError("EpochsWithUntilEpoch", ErrorKind.InvalidArgument, UntilEpoch,
                new ArgumentException($"Give -Epochs {Epochs} (train this many more epochs) or -UntilEpoch {UntilEpoch} (train until the model has this many in total), not both.", nameof(UntilEpoch))));
        if (Force && Resume)
            throw new CommandException(new CommandError("ForceWithResume", ErrorKind.InvalidArgument, CheckpointPath,
                new ArgumentException("Give -Resume (continue from the checkpoint) or -Force (start over and replace it), not both.", nameof(Force))));
        _logic = new TrainingLogic(new TrainingParameters
        {
            Epochs = Epochs,
            BatchSize = BatchSize,
            LearningRate = LearningRate,
            Optimizer = Optimizer,
            ValidationData = ValidationData,
            Seed = IsBound(nameof(Seed)) ? Seed : null,
            CheckpointPath = CheckpointPath is null ? null : ResolvePath(CheckpointPath),
            Resume = Resume,
            Force = Force,
            UntilEpoch = IsBound(nameof(UntilEpoch)) ? UntilEpoch : null,
            TakeConsoleBreak = Host.Name == "ConsoleHost" && SignalStop.IsNonInteractivePwsh(Environment.GetCommandLineArgs()),
            ThrottleLimit = ThrottleLimit,
            Objective = Objective,
            Samples = Samples,
            KlWarmupEpochs = KlWarmupEpochs,
            LogInterval = LogInterval,
            OnEpoch = OnEpoch is null ? null : RunOnEpoch,
        });
        _logic.BuildOptions(); // fail early on bad combinations
    });

    protected override void ProcessRecord() => Run(() => _logic!.Process(this, Model, Data, StopToken));
}
