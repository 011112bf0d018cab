using System.Globalization;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.IO;
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
    /// <summary>-Force: an existing checkpoint that is not resumed is replaced (without it, that is an error).</summary>
    public bool Force { get; set; }
    /// <summary>-UntilEpoch N: train until the model has N epochs in total (instead of -Epochs more); null for -Epochs.</summary>
    public int? UntilEpoch { get; set; }
    /// <summary>Stop on SIGINT / SIGTERM (the cmdlet always does; tests of the logic may turn it off).</summary>
    public bool HandleSignals { get; set; } = true;
    /// <summary>-LogInterval N: a per-batch loss record every N batches (<see cref="VaeModel.BatchHistory"/>); 0 for none.</summary>
    public int LogInterval { get; set; }
    /// <summary>
    /// -OnEpoch: called after each completed epoch (after its checkpoint) with the model and the epoch's record; false
    /// stops the training there (early stopping). An exception from it stops the training too, keeping that epoch, and is
    /// reported as an EpochHookFailed error.
    /// </summary>
    public Func<VaeModel, EpochRecord, bool>? OnEpoch { get; set; }
    /// <summary>The host is a non-interactive pwsh: SIGINT is taken from PowerShell's console handler too (see <see cref="SignalStop"/>).</summary>
    public bool TakeConsoleBreak { get; set; }
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

    private static int s_trainings;

    /// <summary>Progress ids of this command's two bars: distinct for every command, so parallel trainings do not share a bar.</summary>
    public int EpochActivity { get; }
    public int BatchActivity => EpochActivity + 1;

    private readonly TrainingParameters _p;
    private readonly Func<TimeSpan>? _clock;

    /// <param name="parameters">The cmdlet's parameters.</param>
    /// <param name="clock">Time source for the progress throttle (tests step it); default a stopwatch.</param>
    public TrainingLogic(TrainingParameters parameters, Func<TimeSpan>? clock = null)
    {
        _p = parameters;
        _clock = clock;
        EpochActivity = 1 + 2 * (Interlocked.Increment(ref s_trainings) % 100_000_000);
    }

    /// <summary>Tests: called with the signal handler of each training as it starts (to simulate a signal).</summary>
    internal Action<SignalStop>? OnSignalsRegistered { get; set; }

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
            LogInterval = _p.LogInterval,
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

        string? path = _p.CheckpointPath;
        string amount = _p.UntilEpoch is int until ? $"until epoch {until} in total" : $"for {options.Epochs} epoch{(options.Epochs == 1 ? "" : "s")}";
        string action = path is null
            ? $"Train {amount} on {data.Description}"
            : $"Train {amount} on {data.Description}, {(_p.Resume ? "resuming from and " : "")}writing this checkpoint after every epoch";
        if (!sink.ShouldProcess(path ?? model.ToString(), action))
        {
            sink.WriteVerbose($"Not training {model}: declined (-WhatIf or -Confirm); nothing was trained or written.");
            return;
        }

        IDisposable? modelLease = null;
        FileLock? checkpointLock = null;
        try
        {
            // One training of a model at a time: a second thread (runspace, ForEach-Object -Parallel) fails at once.
            try { modelLease = model.BeginTraining(); }
            catch (ModelInUseException e)
            {
                sink.WriteError(new CommandError("ModelInUse", ErrorKind.ResourceBusy, model, e));
                return;
            }

            TrainingCheckpoint? checkpoint = null;
            if (path is not null)
            {
                if (!OpenCheckpoint(sink, model, path, out checkpointLock, out checkpoint)) return;
            }

            if (_p.UntilEpoch is int total)
            {
                int remaining = total - model.History.Count;
                if (remaining <= 0)
                {
                    sink.WriteWarning($"Nothing to train: the model has already trained {model.History.Count} epoch{(model.History.Count == 1 ? "" : "s")} (-UntilEpoch {total}). " +
                        (path is null ? "The model is emitted as it is." : $"The checkpoint '{path}' was left as it is and its model is emitted."));
                    sink.WriteObject(model);
                    return;
                }
                options = options with { Epochs = remaining };
            }

            if (!WidthsMatch(sink, model, data, "Data") ||
                (_p.ValidationData is { } v && !WidthsMatch(sink, model, v, "ValidationData")))
                return;

            if (model.Config.DecoderOnly && (options.Objective != Objective.Elbo || options.Samples != 1))
                sink.WriteWarning($"The model is decoder-only: it trains by its Monte Carlo marginal likelihood over {model.Config.PriorSamples} prior samples (New-Vae -PriorSamples), so -Objective {options.Objective} -Samples {options.Samples} has no effect.");
            Train(sink, model, data, options, checkpoint, cancellation);
        }
        finally
        {
            checkpointLock?.Dispose();
            modelLease?.Dispose();
        }
    }

    /// <summary>
    /// Takes the checkpoint's lock and, with -Resume, loads it into <paramref name="model"/> (in place). An existing
    /// checkpoint is never replaced by a run that does not resume it, unless -Force. False after writing an error.
    /// </summary>
    private bool OpenCheckpoint(ICommandSink sink, VaeModel model, string path, out FileLock? fileLock, out TrainingCheckpoint? checkpoint)
    {
        fileLock = null;
        checkpoint = null;
        if (Directory.Exists(path))
        {
            sink.WriteError(new CommandError("CheckpointIsFolder", ErrorKind.InvalidArgument, path,
                new ArgumentException($"-CheckpointPath '{path}' is a folder; give the path of a file (e.g. '{Path.Combine(path, "checkpoint.safetensors")}').", "CheckpointPath")));
            return false;
        }
        string? folder = Path.GetDirectoryName(path);
        if (folder is not null && !Directory.Exists(folder))
        {
            sink.WriteError(new CommandError("CheckpointFolderNotFound", ErrorKind.ObjectNotFound, path,
                new DirectoryNotFoundException($"Cannot write the checkpoint '{path}': the folder '{folder}' does not exist. Create it first (New-Item -ItemType Directory) or give another -CheckpointPath.")));
            return false;
        }
        try { fileLock = FileLock.Acquire(path); }
        catch (FileLockedException e)
        {
            sink.WriteError(new CommandError("CheckpointInUse", ErrorKind.ResourceBusy, path,
                new IOException($"The checkpoint '{path}' is in use by {FileLockedException.Describe(e.HolderProcessId)}, which is training with it (its lock is '{FileLock.LockPathOf(path)}'). " +
                    "Two trainings on one checkpoint would overwrite each other's epochs. Wait for that training to end (or stop it), or give this one another -CheckpointPath.", e)));
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            sink.WriteError(new CommandError("CheckpointLockFailed", ErrorKind.WriteError, path,
                new IOException($"Cannot lock the checkpoint '{path}' (lock file '{FileLock.LockPathOf(path)}'): {e.Message}", e)));
            return false;
        }

        if (!File.Exists(path))
        {
            if (_p.Resume) sink.WriteVerbose($"No checkpoint at '{path}' yet; starting from the model given.");
            return true;
        }
        if (!_p.Resume)
        {
            if (_p.Force)
            {
                sink.WriteVerbose($"-Force: the checkpoint '{path}' will be replaced by this run, which starts from the model given.");
                return true;
            }
            sink.WriteError(new CommandError("CheckpointExists", ErrorKind.ResourceExists, path,
                new IOException($"The checkpoint '{path}' already exists, and this run does not resume it. Add -Resume to continue from it " +
                    "(with -UntilEpoch N a rerun trains only the epochs still missing), or -Force to start over from the model given and replace it.")));
            return false;
        }
        try
        {
            var (saved, state) = ModelFile.LoadWithCheckpoint(path);
            if (!saved.Config.Equals(model.Config))
            {
                sink.WriteError(new CommandError("CheckpointMismatch", ErrorKind.InvalidArgument, path,
                    new ArgumentException($"The checkpoint '{path}' holds a {saved.Config} model, but the model given is {model.Config}. Resume with the model the checkpoint was made from, or use another -CheckpointPath.", "CheckpointPath")));
                return false;
            }
            if (state is null)
            {
                sink.WriteError(new CommandError("CheckpointWithoutState", ErrorKind.InvalidData, path,
                    new ArgumentException($"'{path}' is a model file without optimiser state (written by Export-Vae, not by -CheckpointPath), so training cannot resume from it exactly. Use Import-Vae and train it instead.", "CheckpointPath")));
                return false;
            }
            // In place: the piped model becomes the checkpoint's, so $m | Invoke-VaeTraining -Resume trains $m itself.
            model.LoadStateFrom(saved);
            checkpoint = state;
            sink.WriteVerbose($"Resuming from '{path}' after epoch {model.History.Count}.");
            return true;
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            sink.WriteError(Errors.From(e, "CheckpointUnreadable", path));
            return false;
        }
    }

    private static bool WidthsMatch(ICommandSink sink, VaeModel model, IDataset data, string parameter)
    {
        try { Preconditions.RequireInputWidth(model, data, parameter); return true; }
        catch (CommandException e) { sink.WriteError(e.Error); return false; } // this piped model only
    }

    private void Train(ICommandSink sink, VaeModel model, IDataset data, TrainingOptions options, TrainingCheckpoint? checkpoint, CancellationToken cancellation)
    {
        int firstEpoch = model.History.Count + 1;
        string activity = $"Training {model.Config} on {data.Description}";
        var throttle = new ProgressThrottle(BatchProgressInterval, _clock);
        sink.WriteProgress(new ProgressReport(EpochActivity, activity, $"Epoch {firstEpoch} of {firstEpoch + options.Epochs - 1}", 0));
        bool warnedGrowth = false;
        using var hookStop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        Exception? hookError = null;
        int? stoppedByHook = null;

        void OnProgress(TrainingProgress p)
        {
            if (p.CompletedEpoch is EpochRecord r)
            {
                int done = r.Epoch - firstEpoch + 1;
                sink.WriteVerbose(Describe(r, p.Epochs));
                if (_p.OnEpoch is { } hook)
                {
                    try
                    {
                        if (!hook(model, r)) { stoppedByHook = r.Epoch; hookStop.Cancel(); }
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        hookError = e;
                        hookStop.Cancel();
                    }
                }
                if (!warnedGrowth && LossGrewFar(model.History[0].TrainLoss, r.TrainLoss))
                {
                    warnedGrowth = true;
                    sink.WriteWarning(string.Create(CultureInfo.InvariantCulture,
                        $"The training loss grew from {model.History[0].TrainLoss:g4} (epoch {model.History[0].Epoch}) to {r.TrainLoss:g4} (epoch {r.Epoch}): the training is diverging. " +
                        $"Stop it and try a smaller -LearningRate (this run uses {options.LearningRate:g3}; Adam usually trains with 1e-3 or less)."));
                }
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
        using var signals = _p.HandleSignals ? new SignalStop(hookStop.Token, _p.TakeConsoleBreak) : null;
        if (signals is not null) OnSignalsRegistered?.Invoke(signals);
        try
        {
            // Either engine: the loop is VaeTrainer's, the step the model's engine's (a checkpoint resumes on either).
            using var trainer = new VaeTrainer(model, options, checkpoint);
            result = trainer.Train(data, _p.ValidationData, OnProgress, signals?.Token ?? hookStop.Token);
        }
        catch (TrainingDivergedException e)
        {
            sink.WriteError(Errors.From(e, "TrainingDiverged", model));
            return;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            // Checkpoint writes, resume state that does not fit, data that cannot be copied.
            bool write = e is IOException or UnauthorizedAccessException;
            sink.WriteError(Errors.From(e, write ? "CheckpointWriteFailed" : "TrainingFailed", write ? _p.CheckpointPath : model));
            return;
        }
        finally
        {
            sink.WriteProgress(new ProgressReport(BatchActivity, "Batches", "Done", 100, EpochActivity, Completed: true));
            sink.WriteProgress(new ProgressReport(EpochActivity, activity, "Done", 100, Completed: true));
        }

        if (result.Cancelled && !cancellation.IsCancellationRequested && signals?.SignalName is null && (hookError is not null || stoppedByHook is not null))
        {
            // Stopped by -OnEpoch, not by the user: the epoch it saw is kept, and later pipeline input still trains.
            if (hookError is not null)
                sink.WriteError(new CommandError("EpochHookFailed", ErrorKind.InvalidOperation, model,
                    new InvalidOperationException($"-OnEpoch failed after epoch {model.History.Count}, so the training stopped there; the model is as it was after that epoch. The script block said: {hookError.Message}", hookError)));
            else
                sink.WriteVerbose($"-OnEpoch stopped the training after epoch {stoppedByHook}.");
            sink.WriteObject(model);
            return;
        }
        if (result.Cancelled)
        {
            Stopped = true;
            string kept = $"the model is as it was after epoch {model.History.Count}" +
                (_p.CheckpointPath is { } path
                    ? (result.Epochs.Count > 0 || checkpoint is not null ? $", which the checkpoint '{path}' holds" : $"; no epoch was completed, so the checkpoint '{path}' was not written")
                    : " (no -CheckpointPath, so nothing was saved to disk)");
            if (signals?.SignalName is string signal)
            {
                string message = $"Training was stopped by {signal} after {result.Epochs.Count} of {options.Epochs} epochs of this run; {kept}.";
                sink.WriteWarning(message);
                throw new CommandException(new CommandError("TrainingStoppedBySignal", ErrorKind.OperationStopped, model,
                    new OperationCanceledException(message + (_p.CheckpointPath is null ? "" : " Run the same command with -Resume to continue."))));
            }
            sink.WriteWarning($"Training was stopped after {result.Epochs.Count} of {options.Epochs} epochs; {kept}.");
        }
        sink.WriteObject(model);
    }

    /// <summary>Whether an epoch's loss is far beyond the first epoch's: more than ten times its size above it.</summary>
    public static bool LossGrewFar(double first, double loss) =>
        double.IsFinite(first) && loss > first + 10 * Math.Max(Math.Abs(first), 1.0);

    /// <summary>The per-epoch verbose line.</summary>
    public static string Describe(EpochRecord r, int lastEpoch)
    {
        string test = r.TestLoss is double t ? FormattableString.Invariant($", test loss {t:0.000}") : "";
        return FormattableString.Invariant(
            $"Epoch {r.Epoch}/{lastEpoch}: train loss {r.TrainLoss:0.000} (reconstruction {r.TrainReconstruction:0.000}, KL {r.TrainKl:0.000}){test}, {r.Seconds:0.0} s");
    }
}
