using System.Globalization;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Invoke-VaeTraining.</summary>
public sealed class TrainingParameters
{
    public int Epochs { get; set; } = 10;
    public int BatchSize { get; set; } = 128;
    public double LearningRate { get; set; } = 1e-3;
    public string Optimizer { get; set; } = nameof(OptimizerKind.Adam);
    public IDataset? ValidationData { get; set; }
    public ulong? Seed { get; set; }
    /// <summary>Resolved file-system path of the checkpoint, or null for none.</summary>
    public string? CheckpointPath { get; set; }
    public bool Resume { get; set; }
    public int ThrottleLimit { get; set; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>Elbo (K-sample average) or Iwae (importance-weighted bound L_K).</summary>
    public string Objective { get; set; } = nameof(Model.Objective.Elbo);
    /// <summary>K, samples of z per image.</summary>
    public int Samples { get; set; } = 1;
    /// <summary>Epochs over which beta ramps linearly from 0 to the model's Beta; 0 for none.</summary>
    public int KlWarmupEpochs { get; set; }
}

/// <summary>
/// Invoke-VaeTraining: trains each (model, data) pair it is given, in place, and emits the model. Progress for
/// epochs (activity 1) and batches (activity 2, at most every <see cref="BatchProgressInterval"/>); a verbose line
/// per epoch. When cancelled it emits the model as of its last completed epoch and ignores further input.
/// </summary>
public sealed class TrainingLogic
{
    /// <summary>Minimum time between two batch progress reports.</summary>
    public static readonly TimeSpan BatchProgressInterval = TimeSpan.FromMilliseconds(250);

    public const int EpochActivity = 1, BatchActivity = 2;

    private readonly TrainingParameters _p;
    private readonly Func<TimeSpan>? _clock;

    /// <param name="parameters">The cmdlet's parameters.</param>
    /// <param name="clock">Time source for the progress throttle (tests step it); default a stopwatch.</param>
    public TrainingLogic(TrainingParameters parameters, Func<TimeSpan>? clock = null)
    {
        _p = parameters;
        _clock = clock;
    }

    /// <summary>True once a run was stopped; later pipeline input is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Validates the parameters (once, before the first input); throws a terminating <see cref="CommandException"/>.</summary>
    public TrainingOptions BuildOptions()
    {
        var options = new TrainingOptions
        {
            Epochs = _p.Epochs,
            BatchSize = _p.BatchSize,
            LearningRate = (float)_p.LearningRate,
            Optimizer = EnumParameter.Parse<OptimizerKind>(_p.Optimizer, nameof(_p.Optimizer)),
            Seed = _p.Seed,
            Threads = _p.ThrottleLimit,
            CheckpointPath = _p.CheckpointPath,
            Objective = EnumParameter.Parse<Objective>(_p.Objective, nameof(_p.Objective)),
            Samples = _p.Samples,
            KlWarmupEpochs = _p.KlWarmupEpochs,
        };
        try { options.Validate(); }
        catch (ArgumentException e) { throw new CommandException(Errors.From(e, "InvalidTrainingOptions", _p)); }
        if (_p.Resume && _p.CheckpointPath is null)
            throw new CommandException(new CommandError("ResumeWithoutCheckpoint", ErrorKind.InvalidArgument, null,
                new ArgumentException("-Resume needs -CheckpointPath: the file to continue from.", "Resume")));
        return options;
    }

    /// <summary>Trains <paramref name="model"/> on <paramref name="data"/> (one pipeline record).</summary>
    public void Process(ICommandSink sink, VaeModel? model, IDataset? data, CancellationToken cancellation)
    {
        if (Stopped || cancellation.IsCancellationRequested) return;
        var options = BuildOptions();
        if (model is null || data is null)
        {
            string missing = model is null ? "Model" : "Data";
            sink.WriteError(new CommandError($"Missing{missing}", ErrorKind.InvalidArgument, model ?? (object?)data,
                new ArgumentException($"Invoke-VaeTraining needs both a model and training data; -{missing} was not given or is null.", missing)));
            return;
        }

        TrainingCheckpoint? checkpoint = null;
        if (_p.CheckpointPath is string path)
        {
            if (!sink.ShouldProcess(path, "Write a training checkpoint after every epoch"))
            {
                sink.WriteVerbose($"Not training {model}: writing the checkpoint '{path}' was declined.");
                return;
            }
            if (_p.Resume && File.Exists(path))
            {
                try
                {
                    var (saved, state) = ModelFile.LoadWithCheckpoint(path);
                    if (!saved.Config.Equals(model.Config))
                    {
                        sink.WriteError(new CommandError("CheckpointMismatch", ErrorKind.InvalidArgument, path,
                            new ArgumentException($"The checkpoint '{path}' holds a {saved.Config} model, but the model given is {model.Config}. Resume with the model the checkpoint was made from, or use another -CheckpointPath.", "CheckpointPath")));
                        return;
                    }
                    if (state is null)
                    {
                        sink.WriteError(new CommandError("CheckpointWithoutState", ErrorKind.InvalidData, path,
                            new ArgumentException($"'{path}' is a model file without optimiser state (written by Export-Vae, not by -CheckpointPath), so training cannot resume from it exactly. Use Import-Vae and train it instead.", "CheckpointPath")));
                        return;
                    }
                    if (model.Engine == EngineLogic.Torch)
                    {
                        sink.WriteError(new CommandError("ResumeNotSupportedOnTorch", ErrorKind.InvalidOperation, path,
                            new InvalidOperationException($"-Resume continues a managed-engine checkpoint exactly (optimiser and random state); the model given runs on the Torch engine, whose checkpoints hold the weights only. Resume on the managed engine (ConvertTo-Vae -Engine Managed), or train the Torch model from Import-Vae '{path}' -Engine Torch.")));
                        return;
                    }
                    model = saved;
                    checkpoint = state;
                    sink.WriteVerbose($"Resuming from '{path}' after epoch {model.History.Count}.");
                }
                catch (Exception e) when (e is IOException or ArgumentException)
                {
                    sink.WriteError(Errors.From(e, "CheckpointUnreadable", path));
                    return;
                }
            }
            else if (_p.Resume) sink.WriteVerbose($"No checkpoint at '{path}' yet; starting from the model given.");
        }

        if (!WidthsMatch(sink, model, data, "training data") ||
            (_p.ValidationData is { } v && !WidthsMatch(sink, model, v, "validation data")))
            return;

        if (model.Config.DecoderOnly && (options.Objective != Objective.Elbo || options.Samples != 1))
            sink.WriteWarning($"The model is decoder-only: it trains by its Monte Carlo marginal likelihood over {model.Config.PriorSamples} prior samples (New-Vae -PriorSamples), so -Objective {options.Objective} -Samples {options.Samples} has no effect.");
        Train(sink, model, data, options, checkpoint, cancellation);
    }

    private static bool WidthsMatch(ICommandSink sink, VaeModel model, IDataset data, string what)
    {
        if (data.Features == model.Config.InputDim) return true;
        sink.WriteError(new CommandError("WidthMismatch", ErrorKind.InvalidArgument, data,
            new ShapeMismatchException($"The {what} ({data.Description}) has images of {data.Features} values, but the model ({model.Config}) takes {model.Config.InputDim}. Use data of the model's width, or create the model from the data (… | New-Vae).")));
        return false;
    }

    private void Train(ICommandSink sink, VaeModel model, IDataset data, TrainingOptions options, TrainingCheckpoint? checkpoint, CancellationToken cancellation)
    {
        int firstEpoch = model.History.Count + 1;
        string activity = $"Training {model.Config} on {data.Description}";
        var throttle = new ProgressThrottle(BatchProgressInterval, _clock);
        sink.WriteProgress(new ProgressReport(EpochActivity, activity, $"Epoch {firstEpoch} of {firstEpoch + options.Epochs - 1}", 0));

        void OnProgress(TrainingProgress p)
        {
            if (p.CompletedEpoch is EpochRecord r)
            {
                int done = r.Epoch - firstEpoch + 1;
                sink.WriteVerbose(Describe(r, p.Epochs));
                sink.WriteProgress(new ProgressReport(EpochActivity, activity,
                    done < options.Epochs ? $"Epoch {r.Epoch + 1} of {p.Epochs}" : "Done", 100 * done / options.Epochs));
                return;
            }
            if (p.Batch == p.Batches || throttle.Ready())
                sink.WriteProgress(new ProgressReport(BatchActivity, $"Epoch {p.Epoch} of {p.Epochs}",
                    string.Create(CultureInfo.InvariantCulture, $"Batch {p.Batch} of {p.Batches}, loss {p.RunningLoss:0.00}"),
                    100 * p.Batch / p.Batches, EpochActivity));
        }

        TrainingResult result;
        try
        {
            if (model.Engine == EngineLogic.Torch)
                result = TorchBridge.Train(model, options, data, _p.ValidationData, OnProgress, cancellation);
            else
            {
                using var trainer = new VaeTrainer(model, options, checkpoint);
                result = trainer.Train(data, _p.ValidationData, OnProgress, cancellation);
            }
        }
        catch (TrainingDivergedException e)
        {
            sink.WriteError(Errors.From(e, "TrainingDiverged", model));
            return;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            // Checkpoint writes, resume state that does not fit, data that cannot be copied.
            sink.WriteError(Errors.From(e, e is IOException or UnauthorizedAccessException ? "CheckpointWriteFailed" : "TrainingFailed",
                e is IOException ? _p.CheckpointPath : model));
            return;
        }
        finally
        {
            sink.WriteProgress(new ProgressReport(BatchActivity, "Batches", "Done", 100, EpochActivity, Completed: true));
            sink.WriteProgress(new ProgressReport(EpochActivity, activity, "Done", 100, Completed: true));
        }

        if (result.Cancelled)
        {
            Stopped = true;
            sink.WriteWarning($"Training was stopped after {result.Epochs.Count} of {options.Epochs} epochs; the model is as it was after epoch {model.History.Count}.");
        }
        sink.WriteObject(model);
    }

    /// <summary>The per-epoch verbose line.</summary>
    public static string Describe(EpochRecord r, int lastEpoch)
    {
        string test = r.TestLoss is double t ? FormattableString.Invariant($", test loss {t:0.000}") : "";
        return FormattableString.Invariant(
            $"Epoch {r.Epoch}/{lastEpoch}: train loss {r.TrainLoss:0.000} (reconstruction {r.TrainReconstruction:0.000}, KL {r.TrainKl:0.000}){test}, {r.Seconds:0.0} s");
    }
}
