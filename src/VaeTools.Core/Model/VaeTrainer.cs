using System.Runtime.CompilerServices;
using System.Diagnostics;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Internal;

namespace VaeTools.Model;

/// <summary>
/// Trains a <see cref="VaeModel"/> in place: shuffled minibatches, one optimiser step per batch,
/// per-epoch records appended to the model's history. Everything a step needs is allocated before
/// the first step. A cancelled or diverged run leaves the model as it was after the last completed
/// epoch (parameters and optimiser state are snapshotted at every epoch's end).
/// </summary>
/// <remarks>
/// Each batch is split into <see cref="TrainingOptions.Shares"/> contiguous parts (2 by default, whatever the thread
/// count), one per <see cref="Replica"/>: a loss graph of its own that shares the model's weights but has its own
/// gradients and random streams. The threads take the parts one after another and run them forward and backward at
/// once; a thread with no part left helps with the matrix products of the parts still running (<see cref="ShareHelp"/>),
/// which does not change their numbers. The gradients are then added in part order and the optimiser steps once.
/// Which thread runs a part, and how a product is split, never changes a number, so the same seed gives a
/// bitwise-identical model on 1, 2 or more threads.
/// </remarks>
public sealed class VaeTrainer : IDisposable, IParallelTask
{
    private readonly WorkerPool _pool;
    private readonly Replica[] _replicas;
    private readonly RandomSource _shuffleRandom, _evalRandom;
    private readonly Tensor[][] _otherGradients; // replicas 1..T-1 that had rows this step, for the optimiser to add
    private readonly ShareHelp? _help;           // with T > 1: threads done with their share help the others
    private int _nextShare;                      // the next share of the step a thread takes
    private IDataset? _stepData;
    private int[]? _stepRows;
    private int _stepStart, _stepCount;
    private readonly Tensor[] _snapshot;
    private readonly Tensor[] _optimizerSnapshot;
    private long _optimizerSnapshotSteps;
    private long _stepsDone;
    private readonly IDisposable _lease;

    /// <param name="model">Trained in place.</param>
    /// <param name="options">How to train.</param>
    /// <param name="resume">A checkpoint's optimiser and random state (from <see cref="ModelFile.LoadWithCheckpoint"/>) to continue from exactly.</param>
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
            // A decoder-only model shares its K prior samples across the whole batch, so it is not split:
            // one replica whose matrix products use the threads instead. Otherwise a fixed number of shares, so that the
            // model does not depend on the thread count; more threads than shares would only wait.
            _replicas = new Replica[model.Config.DecoderOnly ? 1 : options.Shares];
            _pool = new WorkerPool(model.Config.DecoderOnly ? options.Threads : Math.Min(options.Threads, options.Shares));
            _help = _replicas.Length > 1 ? new ShareHelp(_replicas.Length) : null;
            for (int t = 0; t < _replicas.Length; t++)
                _replicas[t] = new Replica(model, options, root.Split(), root.Split(), sharesModelGradients: t == 0,
                    _help?.CreatePool(t) ?? _pool);
            _otherGradients = new Tensor[Math.Max(0, _replicas.Length - 1)][];
            Optimizer = Engine.Optimizer.Create(options.Optimizer, model.Parameters, options.LearningRate);
            Optimizer.Pool = _pool;
            if (resume is not null) Resume(resume);
            _snapshot = model.Parameters.Select(p => p.Value.Clone()).ToArray();
            _optimizerSnapshot = Optimizer.StateTensors().Select(s => s.Value.Clone()).ToArray();
        }
        catch
        {
            _pool?.Dispose();
            _lease.Dispose();
            throw;
        }
    }

    /// <summary>Tests: the helping between this trainer's threads (null with one thread).</summary>
    internal ShareHelp? Help => _help;

    public VaeModel Model { get; }
    public TrainingOptions Options { get; }

    /// <summary>
    /// When set, training times replica 0's ops (forward and backward), the parallel forward-backward phase as a
    /// whole ("step: replicas") and the optimiser ("step: optimizer"). For the benchmark's --profile.
    /// </summary>
    public OpProfile? Profile
    {
        get => _profile;
        set { _profile = value; _replicas[0].Graph.Graph.Profile = value; }
    }
    private OpProfile? _profile;
    public Optimizer Optimizer { get; }

    /// <summary>
    /// One thread's share of a step: a loss graph over the model's weights. Replica 0 accumulates into the
    /// model's own gradients; the others into parameters that share the weights' values but not their gradients.
    /// </summary>
    private sealed class Replica
    {
        public Replica(VaeModel model, TrainingOptions options, RandomSource noise, RandomSource data, bool sharesModelGradients, WorkerPool pool)
        {
            Noise = noise;
            Data = data;
            Parameters = sharesModelGradients
                ? model.Parameters.ToArray()
                : model.Parameters.Select(p => new Parameter(p.Name, p.Value, p.InputMajor)).ToArray();
            var map = model.Parameters.Zip(Parameters).ToDictionary(pair => pair.First, pair => pair.Second);
            Graph = model.BuildLossGraph(options.Objective, options.Samples, pool, noise, map);
            Pool = pool;
        }

        /// <summary>The pool of this replica's graph in training.</summary>
        public WorkerPool Pool { get; }

        public LossGraph Graph { get; }
        public Parameter[] Parameters { get; }
        /// <summary>This replica's gradient of each model parameter, in the model's parameter order.</summary>
        public Tensor[] Gradients => _gradients ??= Parameters.Select(p => p.Grad).ToArray();
        private Tensor[]? _gradients;
        public RandomSource Noise { get; }
        public RandomSource Data { get; }
        /// <summary>Rows of the current step (0 when the batch had fewer rows than threads).</summary>
        public int Rows { get; set; }
        public double Loss { get; set; }
        /// <summary>How long this replica's last share took (when profiling).</summary>
        public long Ticks { get; set; }
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
                var (loss, rec, kl) = Step(train, order, start, count);
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
                progress?.Invoke(new TrainingProgress(epoch, firstEpoch + Options.Epochs - 1, b + 1, batches, lossSum / (start + count), null));
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
                var eval = Evaluate(validation, batchSize);
                record = record with { TestLoss = eval.Loss, TestReconstruction = eval.Reconstruction, TestKl = eval.Kl, TestSeconds = clock.Elapsed.TotalSeconds };
            }
            Model.AppendHistory(record);
            Model.AppendBatchHistory(_pendingBatchRecords);
            _pendingBatchRecords.Clear();
            records.Add(record);
            TakeSnapshot();
            if (Options.CheckpointPath is not null) ModelFile.Save(Model, Options.CheckpointPath, CreateCheckpoint());
            progress?.Invoke(new TrainingProgress(epoch, firstEpoch + Options.Epochs - 1, batches, batches, record.TrainLoss, record));
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

    private RandomSource[] Streams =>
        new[] { _shuffleRandom, _evalRandom }.Concat(_replicas.SelectMany(r => new[] { r.Noise, r.Data })).ToArray();

    /// <summary>The optimiser and random state now, for a checkpoint file.</summary>
    public TrainingCheckpoint CreateCheckpoint() => new(
        Optimizer.Kind, Optimizer.LearningRate, Optimizer.StepCount,
        Optimizer.StateTensors().ToDictionary(s => s.Name, s => s.Value.Clone()),
        Streams.Select(r => r.GetState()).ToArray());

    private void Resume(TrainingCheckpoint checkpoint)
    {
        if (checkpoint.Optimizer != Optimizer.Kind)
            throw new ArgumentException($"The checkpoint was trained with {checkpoint.Optimizer}; this run uses {Optimizer.Kind}. Resume with the same optimiser.", nameof(checkpoint));
        foreach (var (name, tensor) in Optimizer.StateTensors())
        {
            if (!checkpoint.OptimizerState.TryGetValue(name, out var saved))
                throw new ArgumentException($"The checkpoint lacks the optimiser state '{name}'.", nameof(checkpoint));
            if (saved.Length != tensor.Length)
                throw new ArgumentException($"The checkpoint's optimiser state '{name}' is {saved.Shape}; expected {tensor.Shape}.", nameof(checkpoint));
            saved.Span.CopyTo(tensor.Span);
        }
        Optimizer.SetStepCount(checkpoint.Steps);
        _stepsDone = checkpoint.Steps;
        var streams = Streams;
        if (checkpoint.RandomStates.Count == streams.Length)
            for (int i = 0; i < streams.Length; i++) streams[i].SetState(checkpoint.RandomStates[i]);
    }

    /// <summary>The beta in force now: the model's Beta, ramped linearly from 0 over the warm-up.</summary>
    public double CurrentBeta { get; private set; }

    private void SetBeta(int batchesPerEpoch)
    {
        double beta = Model.Config.Beta;
        if (Options.KlWarmupEpochs > 0)
            beta *= Math.Min(1.0, _stepsDone / ((double)Options.KlWarmupEpochs * batchesPerEpoch));
        CurrentBeta = beta;
        foreach (var r in _replicas)
            if (r.Graph.BetaScale is not null) r.Graph.BetaScale.Parameter = (float)beta;
    }

    /// <summary>One optimiser step on the given rows; returns (mean loss, summed log p(x|z) per image, summed KL per image).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private (double Loss, double LogLikSum, double KlSum) Step(IDataset data, int[] order, int start, int count)
    {
        _stepData = data;
        _stepRows = order;
        _stepStart = start;
        _stepCount = count;
        long started = Stopwatch.GetTimestamp();
        if (_replicas.Length == 1 || _pool.Threads == 1)
        {
            _nextShare = 0;
            _help?.BeginStep();
            ((IParallelTask)this).Execute(0, 1);
        }
        else
        {
            _nextShare = 0;
            _help!.BeginStep();
            _pool.Run(this); // forward and backward of every replica's share, one per thread, helping each other
        }
        if (_profile is not null)
        {
            _profile.Add("step: replicas", Stopwatch.GetTimestamp() - started);
            for (int t = 0; t < _replicas.Length; t++) _profile.Add($"step: replica {t}", _replicas[t].Ticks);
        }
        double loss = 0, rec = 0, kl = 0;
        foreach (var r in _replicas)
        {
            if (r.Rows == 0) continue;
            loss += r.Loss;
            rec += SumPerImage(r.Graph, r.Graph.LogLikelihood);
            if (r.Graph.Kl is not null) kl += SumPerImage(r.Graph, r.Graph.Kl);
        }
        if (!double.IsFinite(loss)) return (loss, 0, 0);
        // Replica 0 wrote into the model's gradients; the others' are added by the optimiser, in replica order.
        int others = 0;
        for (int t = 1; t < _replicas.Length; t++)
            if (_replicas[t].Rows > 0) _otherGradients[others++] = _replicas[t].Gradients;
        Optimizer.AddGradientsOnNextStep(_otherGradients, others);
        started = Stopwatch.GetTimestamp();
        Optimizer.Step();
        _profile?.Add("step: optimizer", Stopwatch.GetTimestamp() - started);
        return (loss, rec, kl);
    }

    /// <summary>
    /// Rows [from, to) of a batch of <paramref name="count"/> that part <paramref name="part"/> of <paramref name="parts"/>
    /// takes: contiguous, in order, the earlier parts taking the extra rows. So part 0 (which writes the model's own
    /// gradients) has rows whenever the batch does; a part with none is skipped.
    /// </summary>
    internal static (int From, int To) BatchShare(int count, int part, int parts) =>
        ((int)(((long)count * part + parts - 1) / parts), (int)(((long)count * (part + 1) + parts - 1) / parts));

    /// <summary>
    /// A thread's work in the current step: the next share not yet taken (share t = rows [start + t*count/T, ...)), as
    /// long as there is one, then help with the shares still running. Which thread runs a share does not change its
    /// numbers, so the result is the same whoever finishes first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IParallelTask.Execute(int part, int parts)
    {
        if (_replicas.Length == 1)
        {
            RunShare(0);
            return;
        }
        int share;
        while ((share = Interlocked.Increment(ref _nextShare) - 1) < _replicas.Length)
        {
            try { RunShare(share); }
            finally { _help!.ShareDone(); }
        }
        _help!.Help();
    }

    /// <summary>Forward and backward of replica <paramref name="share"/>'s rows of the current step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunShare(int share)
    {
        TestHooks.Current?.BeforeShare?.Invoke(share);
        long started = _profile is null ? 0 : Stopwatch.GetTimestamp();
        var r = _replicas[share];
        var (from, to) = BatchShare(_stepCount, share, _replicas.Length);
        r.Rows = to - from;
        if (r.Rows == 0) return;
        var g = r.Graph;
        g.SetBatchImages(_stepCount);
        _stepData!.CopyRows(_stepRows.AsSpan(_stepStart + from, r.Rows), g.Data.SetRows(r.Rows).Span, r.Data);
        g.Graph.Forward(g.Loss);
        r.Loss = g.Loss.Value[0, 0];
        if (double.IsFinite(r.Loss)) g.Graph.Backward(g.Loss);
        if (_profile is not null) r.Ticks = Stopwatch.GetTimestamp() - started;
    }

    /// <summary>Sum over images of a per-sample-row value, averaging each image's K samples.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double SumPerImage(LossGraph graph, Node perRow)
    {
        var v = perRow.Value.Span;
        double s = 0;
        for (int i = 0; i < v.Length; i++) s += v[i];
        return s * ((double)graph.Data.Rows / v.Length);
    }

    public readonly record struct Evaluation(double Loss, double Reconstruction, double Kl, int Count);

    /// <summary>The loss and its parts on <paramref name="data"/> without training (z is sampled, as in training).</summary>
    public Evaluation Evaluate(IDataset data, int batchSize = 0)
    {
        Model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        if (batchSize <= 0) batchSize = Options.BatchSize;
        var graph = _replicas[0].Graph;
        graph.SetBatchImages(0);
        var saved = graph.Graph.Random;
        graph.Graph.Random = _evalRandom;
        graph.Graph.Pool = _pool; // one graph, its products split over the threads
        graph.Graph.Profile = null; // the profile is of training steps
        try
        {
            int n = data.Count;
            Span<int> rows = batchSize <= 4096 ? stackalloc int[batchSize] : new int[batchSize];
            double loss = 0, rec = 0, kl = 0;
            for (int start = 0; start < n; start += batchSize)
            {
                int count = Math.Min(batchSize, n - start);
                for (int i = 0; i < count; i++) rows[i] = start + i;
                data.CopyRows(rows[..count], graph.Data.SetRows(count).Span, _evalRandom);
                graph.Graph.Forward(graph.Loss);
                loss += graph.Loss.Value[0, 0] * (double)count;
                rec += SumPerImage(graph, graph.LogLikelihood);
                if (graph.Kl is not null) kl += SumPerImage(graph, graph.Kl);
            }
            return new Evaluation(loss / n, -rec / n, kl / n, n);
        }
        finally
        {
            graph.Graph.Random = saved;
            graph.Graph.Profile = _profile;
            graph.Graph.Pool = _replicas[0].Pool;
        }
    }

    private void TakeSnapshot()
    {
        for (int i = 0; i < _snapshot.Length; i++) _snapshot[i].CopyFrom(Model.Parameters[i].Value);
        int k = 0;
        foreach (var (_, t) in Optimizer.StateTensors()) _optimizerSnapshot[k++].CopyFrom(t);
        _optimizerSnapshotSteps = Optimizer.StepCount;
    }

    private void Restore()
    {
        for (int i = 0; i < _snapshot.Length; i++) Model.Parameters[i].Value.CopyFrom(_snapshot[i]);
        int k = 0;
        foreach (var (_, t) in Optimizer.StateTensors()) t.CopyFrom(_optimizerSnapshot[k++]);
        Optimizer.SetStepCount(_optimizerSnapshotSteps);
    }

    private void Diverged(IDataset data, ReadOnlySpan<int> rows, int epoch, int batch, int batches, double loss)
    {
        Restore();
        // Tell bad data apart from a diverging optimiser.
        int offset = 0;
        foreach (var replica in _replicas)
        {
            var x = replica.Graph.Data.Value;
            for (int r = 0; r < replica.Rows; r++)
            for (int c = 0; c < x.Cols; c++)
                if (!float.IsFinite(x[r, c]))
                    throw new TrainingDivergedException(
                        $"The training data ({data.Description}) contains {x[r, c]} at image {rows[offset + r]}, pixel {c} (epoch {epoch}, batch {batch} of {batches}). " +
                        "The model was left as it was after the last completed epoch.", epoch, batch);
            offset += replica.Rows;
        }
        throw new TrainingDivergedException(
            $"The loss became {loss} in epoch {epoch}, batch {batch} of {batches}. The model was left as it was after the last completed epoch. " +
            "Try a smaller learning rate (e.g. 1e-4) or a different seed.", epoch, batch);
    }

    public void Dispose()
    {
        _pool.Dispose();
        _lease.Dispose();
    }
}
