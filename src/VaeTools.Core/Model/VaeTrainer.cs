using System.Diagnostics;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Internal;

namespace VaeTools.Model;

/// <summary>
/// Trains a <see cref="VaeModel"/> in place, on whichever engine it runs: shuffled minibatches, one optimiser step per
/// batch, per-epoch records appended to the model's history. A cancelled or diverged run leaves the model as it was after
/// the last completed epoch (weights and optimiser state are snapshotted at every epoch's end).
/// </summary>
/// <remarks>
/// This is the engine-neutral loop: epochs, shuffling, beta warm-up, the divergence check, cancellation, per-batch and
/// per-epoch records and checkpoints. What a step does is the engine's <see cref="ITrainingStep"/>: the managed engine's
/// <see cref="ManagedTrainingStep"/> (replicas on helping threads; see there for the thread-count independence), or the one
/// the model's <see cref="VaeModel.Backend"/> makes (the Torch engine: its module and torch.optim). The random streams are
/// split from one root in a fixed order: the loop's shuffle and evaluation streams, then the step's.
/// </remarks>
public sealed class VaeTrainer : IDisposable
{
    private readonly ITrainingStep _step;
    private readonly RandomSource _shuffleRandom, _evalRandom;
    private long _stepsDone, _snapshotSteps;
    private readonly IDisposable _lease;

    /// <param name="model">Trained in place.</param>
    /// <param name="options">How to train.</param>
    /// <param name="resume">A checkpoint's optimiser and random state (from <see cref="ModelFile.LoadWithCheckpoint"/>) to continue from exactly; written on either engine.</param>
    public VaeTrainer(VaeModel model, TrainingOptions options, TrainingCheckpoint? resume = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _lease = model.BeginTraining(); // a second concurrent training of this model fails here, before touching it
        try
        {
            Model = model;
            Options = options;
            var root = new RandomSource(options.Seed ?? model.Config.Seed);
            _shuffleRandom = root.Split();
            _evalRandom = root.Split();
            _step = model.Backend is { } backend ? backend.CreateTrainingStep(model, options, root) : new ManagedTrainingStep(model, options, root);
            CurrentBeta = model.Config.Beta; // until a warm-up sets it
            _step.SetBeta(CurrentBeta);
            if (resume is not null) Resume(resume);
            _stepsDone = _snapshotSteps = _step.StepCount;
        }
        catch
        {
            _step?.Dispose();
            _lease.Dispose();
            throw;
        }
    }

    public VaeModel Model { get; }
    public TrainingOptions Options { get; }

    /// <summary>The engine's half of each step.</summary>
    public ITrainingStep TrainingStep => _step;

    private ManagedTrainingStep ManagedStep => _step as ManagedTrainingStep
        ?? throw new InvalidOperationException($"The model trains on the {Model.Engine} engine; this is a managed-engine feature.");

    /// <summary>Tests: the helping between the managed step's threads (null with one share).</summary>
    internal ShareHelp? Help => ManagedStep.Help;

    /// <summary>The engine step's profile (<see cref="ITrainingStep.Profile"/>); for the benchmark's --profile.</summary>
    public OpProfile? Profile
    {
        get => _step.Profile;
        set => _step.Profile = value;
    }

    /// <summary>Trains for Options.Epochs epochs; see the class summary for cancellation and divergence.</summary>
    public TrainingResult Train(IDataset train, IDataset? validation = null, Action<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        Model.CheckInputWidth(train.Features, $"The training data ({train.Description})");
        if (validation is not null) Model.CheckInputWidth(validation.Features, $"The validation data ({validation.Description})");
        if (train.Count == 0) throw new ArgumentException($"The training data ({train.Description}) has no images.", nameof(train));

        int n = train.Count, batchSize = Math.Min(Options.BatchSize, n);
        int batches = (n + batchSize - 1) / batchSize;
        var order = new int[n];
        var records = new List<EpochRecord>();
        int firstEpoch = Model.History.Count + 1;
        TakeSnapshot();

        // Per-batch records number their steps on from the model's last one.
        long stepBase = (Model.BatchHistory.Count > 0 ? Model.BatchHistory[^1].Step : 0) - _stepsDone;
        for (int e = 0; e < Options.Epochs; e++)
        {
            int epoch = firstEpoch + e;
            var clock = Stopwatch.StartNew();
            // Each epoch's order depends only on the shuffle stream (not on the previous epoch's order),
            // so a run resumed from a checkpoint sees the same batches as an uninterrupted one.
            for (int i = 0; i < n; i++) order[i] = i;
            if (Options.Shuffle) _shuffleRandom.Shuffle(order);
            double lossSum = 0, recSum = 0, klSum = 0;
            var run = new BatchRun(); // the batches since the last per-batch record
            _pendingBatchRecords.Clear();
            for (int b = 0; b < batches; b++)
            {
                int start = b * batchSize, count = Math.Min(batchSize, n - start);
                SetBeta(batches);
                var (loss, rec, kl) = _step.Step(train, order, start, count);
                if (!double.IsFinite(loss)) Diverged(train, order.AsSpan(start, count), epoch, b + 1, batches, loss);
                lossSum += loss * count; recSum += rec; klSum += kl;
                _stepsDone++;
                if (Options.LogInterval > 0)
                {
                    run.Add(loss * count, rec, kl, count);
                    if ((b + 1) % Options.LogInterval == 0 || b == batches - 1)
                    {
                        _pendingBatchRecords.Add(run.ToRecord(epoch, b + 1, stepBase + _stepsDone, CurrentBeta));
                        run = new BatchRun();
                    }
                }
                Report(progress, new TrainingProgress(epoch, firstEpoch + Options.Epochs - 1, b + 1, batches, lossSum / (start + count), null));
                if (cancellation.IsCancellationRequested)
                {
                    Restore();
                    return new TrainingResult(Model, records, Cancelled: true);
                }
            }
            double seconds = clock.Elapsed.TotalSeconds;

            EpochRecord record = new()
            {
                Epoch = epoch,
                TrainLoss = lossSum / n,
                TrainReconstruction = -recSum / n,
                TrainKl = klSum / n,
                Beta = CurrentBeta,
                Seconds = seconds,
            };
            if (validation is not null)
            {
                clock.Restart();
                var eval = _step.Evaluate(validation, batchSize, _evalRandom);
                record = record with { TestLoss = eval.Loss, TestReconstruction = eval.Reconstruction, TestKl = eval.Kl, TestSeconds = clock.Elapsed.TotalSeconds };
            }
            _step.EpochCompleted();
            Model.AppendHistory(record);
            Model.AppendBatchHistory(_pendingBatchRecords);
            _pendingBatchRecords.Clear();
            records.Add(record);
            TakeSnapshot();
            if (Options.CheckpointPath is not null) ModelFile.Save(Model, Options.CheckpointPath, CreateCheckpoint());
            Report(progress, new TrainingProgress(epoch, firstEpoch + Options.Epochs - 1, batches, batches, record.TrainLoss, record));
            if (cancellation.IsCancellationRequested) return new TrainingResult(Model, records, Cancelled: true);
        }
        return new TrainingResult(Model, records, Cancelled: false);
    }

    private readonly List<BatchRecord> _pendingBatchRecords = new(); // this epoch's, kept only when it completes

    /// <summary>Sums over the batches since the last <see cref="BatchRecord"/>.</summary>
    private struct BatchRun
    {
        private double _loss, _logLik, _kl;
        private int _images, _batches;

        public void Add(double lossTimesImages, double logLikSum, double klSum, int images)
        {
            _loss += lossTimesImages; _logLik += logLikSum; _kl += klSum; _images += images; _batches++;
        }

        public readonly BatchRecord ToRecord(int epoch, int batch, long step, double beta) => new()
        {
            Epoch = epoch, Batch = batch, Step = step, FirstStep = step - _batches + 1,
            TrainLoss = _loss / _images, TrainReconstruction = -_logLik / _images, TrainKl = _kl / _images, Beta = beta,
        };
    }

    /// <summary>Every random stream of the run in checkpoint order: the loop's shuffle and evaluation streams, then the step's.</summary>
    private RandomSource[] Streams => new[] { _shuffleRandom, _evalRandom }.Concat(_step.Streams).ToArray();

    /// <summary>The optimiser and random state now, for a checkpoint file (the same naming and layout on both engines).</summary>
    public TrainingCheckpoint CreateCheckpoint() => new(
        _step.Optimizer, _step.LearningRate, _step.StepCount,
        _step.ReadOptimizerState().ToDictionary(s => s.Name, s => s.Value),
        Streams.Select(r => r.GetState()).ToArray());

    /// <summary>
    /// Continues from <paramref name="checkpoint"/>: the optimiser state and step count, and the random streams. A
    /// checkpoint of the same engine and share count continues exactly; one from the other engine (or another share
    /// count) has the streams of its shuffle, evaluation and first share, which are restored, and any others start fresh.
    /// </summary>
    private void Resume(TrainingCheckpoint checkpoint)
    {
        if (checkpoint.Optimizer != _step.Optimizer)
            throw new ArgumentException($"The checkpoint was trained with {checkpoint.Optimizer}; this run uses {_step.Optimizer}. Resume with the same optimiser.", nameof(checkpoint));
        foreach (var (name, expected) in _step.ReadOptimizerState())
        {
            if (!checkpoint.OptimizerState.TryGetValue(name, out var saved))
                throw new ArgumentException($"The checkpoint lacks the optimiser state '{name}'.", nameof(checkpoint));
            if (saved.Rows != expected.Rows || saved.Cols != expected.Cols)
                throw new ArgumentException($"The checkpoint's optimiser state '{name}' is {saved.Shape}; expected {expected.Shape}.", nameof(checkpoint));
        }
        _step.WriteOptimizerState(checkpoint.OptimizerState, checkpoint.Steps);
        var streams = Streams;
        for (int i = 0; i < Math.Min(streams.Length, checkpoint.RandomStates.Count); i++) streams[i].SetState(checkpoint.RandomStates[i]);
    }

    /// <summary>The beta in force now: the model's Beta, ramped linearly from 0 over the warm-up.</summary>
    public double CurrentBeta { get; private set; }

    private void SetBeta(int batchesPerEpoch)
    {
        if (Options.KlWarmupEpochs <= 0) return; // the model's Beta, set once
        CurrentBeta = Model.Config.Beta * Math.Min(1.0, _stepsDone / ((double)Options.KlWarmupEpochs * batchesPerEpoch));
        _step.SetBeta(CurrentBeta);
    }

    public readonly record struct Evaluation(double Loss, double Reconstruction, double Kl, int Count);

    /// <summary>
    /// Rows [from, to) of a batch of <paramref name="count"/> that part <paramref name="part"/> of <paramref name="parts"/>
    /// takes: contiguous, in order, the earlier parts taking the extra rows. So part 0 (which writes the model's own
    /// gradients) has rows whenever the batch does; a part with none is skipped.
    /// </summary>
    internal static (int From, int To) BatchShare(int count, int part, int parts) =>
        ((int)(((long)count * part + parts - 1) / parts), (int)(((long)count * (part + 1) + parts - 1) / parts));

    /// <summary>The loss and its parts on <paramref name="data"/> without training (z is sampled, as in training).</summary>
    public Evaluation Evaluate(IDataset data, int batchSize = 0)
    {
        Model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        if (batchSize <= 0) batchSize = Options.BatchSize;
        return _step.Evaluate(data, batchSize, _evalRandom);
    }

    /// <summary>
    /// Calls <paramref name="progress"/>; if it throws (PowerShell's WriteProgress throws PipelineStoppedException once the
    /// pipeline is stopped, which can come before the cancellation token is seen), the model is first put back to the last
    /// completed epoch, as a cancellation would leave it, so no half-trained epoch escapes with the exception.
    /// </summary>
    private void Report(Action<TrainingProgress>? progress, TrainingProgress p)
    {
        if (progress is null) return;
        try { progress(p); }
        catch
        {
            Restore();
            throw;
        }
    }

    private void TakeSnapshot()
    {
        _step.TakeSnapshot();
        _snapshotSteps = _stepsDone;
    }

    private void Restore()
    {
        _step.RestoreSnapshot();
        _stepsDone = _snapshotSteps;
    }

    private void Diverged(IDataset data, ReadOnlySpan<int> rows, int epoch, int batch, int batches, double loss)
    {
        Restore();
        // Tell bad data apart from a diverging optimiser.
        if (_step.FindNonFiniteInput() is { } bad)
            throw new TrainingDivergedException(
                $"The training data ({data.Description}) contains {bad.Value} at image {rows[bad.Row]}, pixel {bad.Column} (epoch {epoch}, batch {batch} of {batches}). " +
                "The model was left as it was after the last completed epoch.", epoch, batch);
        throw new TrainingDivergedException(
            $"The loss became {loss} in epoch {epoch}, batch {batch} of {batches}. The model was left as it was after the last completed epoch. " +
            "Try a smaller learning rate (e.g. 1e-4) or a different seed.", epoch, batch);
    }

    public void Dispose()
    {
        _step.Dispose();
        _lease.Dispose();
    }
}
