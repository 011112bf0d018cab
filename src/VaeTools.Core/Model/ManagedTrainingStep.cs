using VaeTools.Internal;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>
/// The managed engine's training step (<see cref="ITrainingStep"/>): replicas of the loss graph, the threads that run
/// them and help each other, and the managed optimiser. Everything a step needs is allocated here, before the first step.
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
public sealed class ManagedTrainingStep : ITrainingStep, IParallelTask
{
    private readonly VaeModel _model;
    private readonly WorkerPool _pool;
    private readonly Replica[] _replicas;
    private readonly RandomSource[] _streams;
    private readonly Tensor[][] _otherGradients; // replicas 1..T-1 that had rows this step, for the optimiser to add
    private readonly ShareHelp? _help;           // with T > 1: threads done with their share help the others
    private int _nextShare;                      // the next share of the step a thread takes
    private IDataset? _stepData;
    private int[]? _stepRows;
    private int _stepStart, _stepCount;
    private readonly Tensor[] _snapshot;
    private readonly Tensor[] _optimizerSnapshot;
    private readonly bool[] _stateInputMajor;    // per optimiser state tensor: its parameter is held input-major
    private long _optimizerSnapshotSteps;

    /// <param name="model">Trained in place.</param>
    /// <param name="options">How to train (validated by the caller).</param>
    /// <param name="root">The run's root stream, after the loop's shuffle and evaluation streams: each replica splits its noise and data streams from it.</param>
    public ManagedTrainingStep(VaeModel model, TrainingOptions options, RandomSource root)
    {
        _model = model;
        // A decoder-only model shares its K prior samples across the whole batch, so it is not split:
        // one replica whose matrix products use the threads instead. Otherwise a fixed number of shares, so that the
        // model does not depend on the thread count; more threads than shares would only wait.
        _replicas = new Replica[model.Config.DecoderOnly ? 1 : options.Shares];
        _pool = new WorkerPool(model.Config.DecoderOnly ? options.Threads : Math.Min(options.Threads, options.Shares));
        try
        {
            _help = _replicas.Length > 1 ? new ShareHelp(_replicas.Length) : null;
            for (int t = 0; t < _replicas.Length; t++)
                _replicas[t] = new Replica(model, options, root.Split(), root.Split(), sharesModelGradients: t == 0,
                    _help?.CreatePool(t) ?? _pool);
            _streams = _replicas.SelectMany(r => new[] { r.Noise, r.Data }).ToArray();
            _otherGradients = new Tensor[Math.Max(0, _replicas.Length - 1)][];
            Optimizer = Engine.Optimizer.Create(options.Optimizer, model.Parameters, options.LearningRate);
            Optimizer.Pool = _pool;
            var states = Optimizer.StateTensors().ToArray();
            _stateInputMajor = states.Select(s => OwnerOf(s.Name).InputMajor).ToArray();
            _snapshot = model.Parameters.Select(p => p.Value.Clone()).ToArray();
            _optimizerSnapshot = states.Select(s => s.Value.Clone()).ToArray();
        }
        catch
        {
            _pool.Dispose();
            throw;
        }
    }

    /// <summary>The parameter a state tensor ("PARAMETER.exp_avg") belongs to.</summary>
    private Parameter OwnerOf(string stateName) =>
        _model.Parameters.Single(p => stateName.StartsWith(p.Name + ".", StringComparison.Ordinal));

    /// <summary>The managed optimiser (its state in the engine's own layout).</summary>
    public Optimizer Optimizer { get; }

    OptimizerKind ITrainingStep.Optimizer => Optimizer.Kind;
    public float LearningRate => Optimizer.LearningRate;
    public long StepCount => Optimizer.StepCount;
    public IReadOnlyList<RandomSource> Streams => _streams;

    /// <summary>Tests: the helping between this step's threads (null with one share).</summary>
    internal ShareHelp? Help => _help;


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

    public void SetBeta(double beta)
    {
        foreach (var r in _replicas)
            if (r.Graph.BetaScale is not null) r.Graph.BetaScale.Parameter = (float)beta;
    }

    /// <summary>One optimiser step on the given rows; returns (mean loss, summed log p(x|z) per image, summed KL per image).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (double Loss, double LogLikSum, double KlSum) Step(IDataset data, int[] order, int start, int count)
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
        TestHooks.Current?.BeforeShare?.Invoke(share); // tests only: hold a share back so another thread helps it
        long started = _profile is null ? 0 : Stopwatch.GetTimestamp();
        var r = _replicas[share];
        var (from, to) = VaeTrainer.BatchShare(_stepCount, share, _replicas.Length);
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

    public VaeTrainer.Evaluation Evaluate(IDataset data, int batchSize, RandomSource random)
    {
        var graph = _replicas[0].Graph;
        graph.SetBatchImages(0);
        var saved = graph.Graph.Random;
        graph.Graph.Random = random;
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
                data.CopyRows(rows[..count], graph.Data.SetRows(count).Span, random);
                graph.Graph.Forward(graph.Loss);
                loss += graph.Loss.Value[0, 0] * (double)count;
                rec += SumPerImage(graph, graph.LogLikelihood);
                if (graph.Kl is not null) kl += SumPerImage(graph, graph.Kl);
            }
            return new VaeTrainer.Evaluation(loss / n, -rec / n, kl / n, n);
        }
        finally
        {
            graph.Graph.Random = saved;
            graph.Graph.Profile = _profile;
            graph.Graph.Pool = _replicas[0].Pool;
        }
    }

    public void TakeSnapshot()
    {
        for (int i = 0; i < _snapshot.Length; i++) _snapshot[i].CopyFrom(_model.Parameters[i].Value);
        int k = 0;
        foreach (var (_, t) in Optimizer.StateTensors()) _optimizerSnapshot[k++].CopyFrom(t);
        _optimizerSnapshotSteps = Optimizer.StepCount;
    }

    public void RestoreSnapshot()
    {
        for (int i = 0; i < _snapshot.Length; i++) _model.Parameters[i].Value.CopyFrom(_snapshot[i]);
        int k = 0;
        foreach (var (_, t) in Optimizer.StateTensors()) t.CopyFrom(_optimizerSnapshot[k++]);
        Optimizer.SetStepCount(_optimizerSnapshotSteps);
    }

    public IEnumerable<(string Name, Tensor Value)> ReadOptimizerState()
    {
        int k = 0;
        foreach (var (name, t) in Optimizer.StateTensors())
            yield return (name, _stateInputMajor[k++] ? t.Transpose() : t.Clone());
    }

    public void WriteOptimizerState(IReadOnlyDictionary<string, Tensor> state, long steps)
    {
        int k = 0;
        foreach (var (name, t) in Optimizer.StateTensors())
        {
            var saved = state[name];
            if (_stateInputMajor[k++]) t.CopyFrom(saved.Transpose());
            else saved.Span.CopyTo(t.Span);
        }
        Optimizer.SetStepCount(steps);
    }

    public (int Row, int Column, float Value)? FindNonFiniteInput()
    {
        int offset = 0;
        foreach (var replica in _replicas)
        {
            var x = replica.Graph.Data.Value;
            for (int r = 0; r < replica.Rows; r++)
            for (int c = 0; c < x.Cols; c++)
                if (!float.IsFinite(x[r, c])) return (offset + r, c, x[r, c]);
            offset += replica.Rows;
        }
        return null;
    }

    public void EpochCompleted() { } // the model's parameters are the live weights

    public void Dispose() => _pool.Dispose();
}
