using TorchSharp;
using TorchSharp.Modules;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using static TorchSharp.torch;
using ManagedTensor = VaeTools.Engine.Tensor;
using Tensor = TorchSharp.torch.Tensor;
using Parameter = TorchSharp.Modules.Parameter;

namespace VaeTools.Torch;

/// <summary>
/// The Torch engine's training step (<see cref="ITrainingStep"/>), driven by <see cref="VaeTrainer"/>'s loop like the
/// managed one: <see cref="VaeMath{T}"/> on the module, libtorch's autograd and torch.optim. Each step and each evaluation
/// batch runs in a dispose scope, so no native memory is kept from one step to the next; the snapshot (weights and
/// torch.optim's state) lives in tensors allocated once. The random streams are the managed step's first share's (noise,
/// data), so the same seed draws the same noise on both engines. At every epoch's end the weights are copied into the
/// model's managed parameters, which files, analysis and the managed engine read.
/// </summary>
public sealed class TorchTrainingStep : ITrainingStep
{
    private readonly VaeModel _model;
    private readonly TorchBackend _backend;
    private readonly TrainingOptions _options;
    private readonly RandomSource _noiseRandom, _dataRandom;
    private readonly optim.Optimizer _optimizer;
    private readonly TorchOps _ops;
    private readonly string[] _names;          // the module's parameters in torch.optim's order, by their model-file names
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _weightSnapshot, _stateSnapshot;
    private long _steps, _snapshotSteps;
    private double _beta;
    private Tensor _hostRows;                   // [rows x D] float32 on the CPU, allocated once: each batch is copied into it in place
    private int _xRows;

    internal TorchTrainingStep(VaeModel model, TorchBackend backend, TrainingOptions options, RandomSource root)
    {
        _model = model;
        _backend = backend;
        _options = options;
        _noiseRandom = root.Split();
        _dataRandom = root.Split();
        var named = backend.Module.named_parameters().ToArray();
        _names = named.Select(p => p.name).ToArray();
        _parameters = named.Select(p => p.parameter).ToArray();
        _optimizer = CreateOptimizer(options.Optimizer, backend.Module, options.LearningRate);
        _ops = new TorchOps(backend.Module, _noiseRandom);
        _beta = model.Config.Beta;
        _hostRows = empty(Math.Max(1, options.BatchSize), model.Config.InputDim, dtype: float32).DetachFromDisposeScope();
        torch.set_num_threads(options.Threads);
        backend.Module.train();
        using (no_grad())
        using (NewDisposeScope()) // the detached views; the clones leave the scope and live until Dispose
        {
            _weightSnapshot = _parameters.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
            _stateSnapshot = TorchState().Select(s => s.Value.detach().clone().DetachFromDisposeScope()).ToArray();
        }
    }

    /// <summary>torch.optim with the managed optimisers' semantics and defaults (Adam 0.9/0.999/1e-8, plain SGD, Adagrad eps 1e-10).</summary>
    public static optim.Optimizer CreateOptimizer(OptimizerKind kind, TorchVaeModule module, float learningRate) => kind switch
    {
        OptimizerKind.Adam => optim.Adam(module.parameters(), learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8),
        OptimizerKind.Sgd => optim.SGD(module.parameters(), learningRate),
        OptimizerKind.Adagrad => optim.Adagrad(module.parameters(), learningRate, lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: 1e-10),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimiser."),
    };

    public OptimizerKind Optimizer => _options.Optimizer;
    public float LearningRate => _options.LearningRate;
    public long StepCount => _steps;
    public IReadOnlyList<RandomSource> Streams => new[] { _noiseRandom, _dataRandom };

    public void SetBeta(double beta) => _beta = beta;

    /// <summary>
    /// When set, each step adds the times of its phases: "step: rows" (the batch into the tensor), "step: forward" (the
    /// loss), "step: backward", "step: optimizer" (torch.optim's step) and "step: readback" (the scalars for the records).
    /// libtorch runs synchronously on the CPU, so the phases' times are their own (on a GPU they include waits).
    /// </summary>
    public OpProfile? Profile { get; set; }

    private long Phase(string name, long since) => OpProfile.Lap(Profile, name, since);

    /// <summary>
    /// torch.optim's state tensors (the live ones), named as the managed optimisers name theirs: Adam's exp_avg and
    /// exp_avg_sq, Adagrad's sum. Plain SGD keeps none (its momentum buffer is never made).
    /// </summary>
    private IEnumerable<(string Name, Tensor Value)> TorchState()
    {
        var states = ((OptimizerHelper)_optimizer).state_dict().State;
        for (int i = 0; i < states.Count; i++)
        {
            switch (states[i])
            {
                case Adam.State adam:
                    yield return (_names[i] + ".exp_avg", adam.exp_avg);
                    yield return (_names[i] + ".exp_avg_sq", adam.exp_avg_sq);
                    break;
                case Adagrad.State adagrad:
                    yield return (_names[i] + ".sum", adagrad.sum);
                    break;
            }
        }
    }

    /// <summary>Sets the per-parameter step count torch.optim keeps (Adam's bias corrections, Adagrad's decay).</summary>
    private void SetTorchSteps(long steps)
    {
        foreach (var state in ((OptimizerHelper)_optimizer).state_dict().State)
        {
            if (state is Adam.State adam) adam.step = steps;
            else if (state is Adagrad.State adagrad) adagrad.step = steps;
        }
    }

    /// <summary>
    /// The rows as a tensor [count x D] on the module's device (inside the caller's dispose scope): copied straight into
    /// the CPU buffer allocated once (<see cref="HostMemory"/>), a view of it on the CPU, a copy on a GPU. The buffer is
    /// overwritten by the next batch, after this step's backward pass has used it.
    /// </summary>
    private Tensor Rows(IDataset data, ReadOnlySpan<int> rows, RandomSource random)
    {
        int d = _model.Config.InputDim;
        if (_hostRows.shape[0] < rows.Length) // an evaluation batch larger than the training batch
        {
            _hostRows.Dispose();
            _hostRows = empty(rows.Length, d, dtype: float32).DetachFromDisposeScope();
        }
        data.CopyRows(rows, HostMemory.Floats(_hostRows)[..(rows.Length * d)], random);
        _xRows = rows.Length;
        var x = _hostRows.narrow(0, 0, rows.Length);
        return _backend.Module.Device.type == DeviceType.CPU ? x : x.to(_backend.Module.Device);
    }

    private static double SumPerImage(Tensor perRow, int images) => perRow.sum().item<float>() * ((double)images / perRow.numel());

    public (double Loss, double LogLikSum, double KlSum) Step(IDataset data, int[] order, int start, int count)
    {
        using var scope = NewDisposeScope();
        long t = System.Diagnostics.Stopwatch.GetTimestamp();
        var x = Rows(data, order.AsSpan(start, count), _dataRandom);
        t = Phase("step: rows", t);
        var parts = new VaeMath<Tensor>(_model.Config, _ops).Loss(x, _options.Objective, _options.Samples, (float)_beta);
        double loss = parts.Loss.item<float>();
        t = Phase("step: forward", t);
        if (!double.IsFinite(loss)) return (loss, 0, 0);
        _optimizer.zero_grad();
        parts.Loss.backward();
        t = Phase("step: backward", t);
        _optimizer.step();
        _steps++;
        t = Phase("step: optimizer", t);
        double rec = SumPerImage(parts.LogLikelihood, count);
        double kl = parts.Kl is null ? 0 : SumPerImage(parts.Kl, count);
        Phase("step: readback", t);
        return (loss, rec, kl);
    }

    public VaeTrainer.Evaluation Evaluate(IDataset data, int batchSize, RandomSource random)
    {
        var saved = _ops.Random;
        _ops.Random = random;
        try
        {
            using var _ = no_grad();
            int n = data.Count;
            var rows = new int[batchSize];
            double loss = 0, rec = 0, kl = 0;
            for (int start = 0; start < n; start += batchSize)
            {
                int count = Math.Min(batchSize, n - start);
                for (int i = 0; i < count; i++) rows[i] = start + i;
                using var scope = NewDisposeScope();
                var x = Rows(data, rows.AsSpan(0, count), random);
                var parts = new VaeMath<Tensor>(_model.Config, _ops).Loss(x, _options.Objective, _options.Samples, (float)_beta);
                loss += parts.Loss.item<float>() * (double)count;
                rec += SumPerImage(parts.LogLikelihood, count);
                if (parts.Kl is not null) kl += SumPerImage(parts.Kl, count);
            }
            return new VaeTrainer.Evaluation(loss / n, -rec / n, kl / n, n);
        }
        finally
        {
            _ops.Random = saved;
            _xRows = 0; // the evaluation's rows are not a step's
        }
    }

    public void TakeSnapshot()
    {
        using var _ = no_grad();
        for (int i = 0; i < _parameters.Length; i++) _weightSnapshot[i].copy_(_parameters[i]);
        int k = 0;
        foreach (var (_, t) in TorchState()) _stateSnapshot[k++].copy_(t);
        _snapshotSteps = _steps;
    }

    public void RestoreSnapshot()
    {
        using (no_grad())
        {
            for (int i = 0; i < _parameters.Length; i++) _parameters[i].copy_(_weightSnapshot[i]);
            int k = 0;
            foreach (var (_, t) in TorchState()) t.copy_(_stateSnapshot[k++]);
        }
        _steps = _snapshotSteps;
        SetTorchSteps(_steps);
        _backend.SyncToModel(_model); // the model's managed copy is the snapshot too
    }

    public IEnumerable<(string Name, ManagedTensor Value)> ReadOptimizerState()
    {
        var result = new List<(string, ManagedTensor)>();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        if (_options.Optimizer == OptimizerKind.Sgd)
        {
            // The managed SGD's (unused without momentum) buffer, so both engines' checkpoints hold the same names.
            foreach (var name in _names)
            {
                var (rows, cols) = _model.FileShape(name);
                result.Add((name + ".momentum_buffer", new ManagedTensor(rows, cols)));
            }
            return result;
        }
        foreach (var (name, t) in TorchState())
        {
            var (rows, cols) = _model.FileShape(ParameterOf(name));
            result.Add((name, new ManagedTensor(rows, cols, HostMemory.Download(t))));
        }
        return result;
    }

    public void WriteOptimizerState(IReadOnlyDictionary<string, ManagedTensor> state, long steps)
    {
        using (no_grad())
        using (NewDisposeScope())
        {
            foreach (var (name, t) in TorchState())
            {
                var saved = state[name];
                t.copy_(HostMemory.Upload(saved.Span, t.shape, torch.CPU));
            }
        }
        _steps = steps;
        SetTorchSteps(steps);
    }

    /// <summary>The parameter a state tensor ("PARAMETER.exp_avg") belongs to.</summary>
    private string ParameterOf(string stateName) => _names.Single(n => stateName.StartsWith(n + ".", StringComparison.Ordinal));

    public (int Row, int Column, float Value)? FindNonFiniteInput()
    {
        int d = _model.Config.InputDim;
        var x = HostMemory.Floats(_hostRows);
        for (int r = 0; r < _xRows; r++)
        for (int c = 0; c < d; c++)
        {
            float v = x[r * d + c];
            if (!float.IsFinite(v)) return (r, c, v);
        }
        return null;
    }

    public void EpochCompleted() => _backend.SyncToModel(_model);

    public void Dispose()
    {
        foreach (var t in _weightSnapshot) t.Dispose();
        foreach (var t in _stateSnapshot) t.Dispose();
        _hostRows.Dispose();
        _optimizer.Dispose();
    }
}
