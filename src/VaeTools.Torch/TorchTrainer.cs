using System.Diagnostics;
using TorchSharp;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace VaeTools.Torch;

/// <summary>
/// Trains a model on the Torch engine: the same epochs, shuffling (the same random streams as the managed trainer),
/// beta warm-up, divergence check, cancellation and checkpoint files as <see cref="VaeTrainer"/>, with a step that runs
/// <see cref="VaeMath{T}"/> on the module, libtorch's autograd and torch.optim. Each step runs in a dispose scope, so no
/// native memory is kept from one step to the next. At every epoch's end the weights are copied into the model's managed
/// parameters; a cancelled or diverged run puts the module back to them (the last completed epoch).
/// </summary>
public sealed class TorchTrainer : IDisposable
{
    private readonly TorchBackend _backend;
    private readonly RandomSource _shuffleRandom, _evalRandom, _noiseRandom, _dataRandom;
    private readonly optim.Optimizer _optimizer;
    private readonly TorchOps _ops;
    private float[] _x = Array.Empty<float>();
    private long _stepsDone;

    public TorchTrainer(VaeModel model, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _backend = model.Backend as TorchBackend
            ?? throw new InvalidOperationException($"The model runs on the {model.Engine} engine; TorchTrainer trains Torch models (New-Vae -Engine Torch, or ConvertTo-Vae -Engine Torch).");
        Model = model;
        Options = options;
        // The managed trainer's streams in the same order: shuffle, evaluation, then (its replica 0's) noise and data.
        var root = new RandomSource(options.Seed ?? model.Config.Seed);
        _shuffleRandom = root.Split();
        _evalRandom = root.Split();
        _noiseRandom = root.Split();
        _dataRandom = root.Split();
        _optimizer = CreateOptimizer(options.Optimizer, _backend.Module, options.LearningRate);
        _ops = new TorchOps(_backend.Module, _noiseRandom);
        CurrentBeta = model.Config.Beta; // until a warm-up sets it, as the managed trainer's graph
    }

    public VaeModel Model { get; }
    public TrainingOptions Options { get; }

    /// <summary>torch.optim with the managed optimisers' semantics and defaults (Adam 0.9/0.999/1e-8, plain SGD, Adagrad eps 1e-10).</summary>
    public static optim.Optimizer CreateOptimizer(OptimizerKind kind, TorchVaeModule module, float learningRate) => kind switch
    {
        OptimizerKind.Adam => optim.Adam(module.parameters(), learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8),
        OptimizerKind.Sgd => optim.SGD(module.parameters(), learningRate),
        OptimizerKind.Adagrad => optim.Adagrad(module.parameters(), learningRate, lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: 1e-10),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimiser."),
    };

    /// <summary>The beta in force now: the model's Beta, ramped linearly from 0 over the warm-up.</summary>
    public double CurrentBeta { get; private set; }

    public TrainingResult Train(IDataset train, IDataset? validation = null, Action<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        Model.CheckInputWidth(train.Features, $"The training data ({train.Description})");
        if (validation is not null) Model.CheckInputWidth(validation.Features, $"The validation data ({validation.Description})");
        if (train.Count == 0) throw new ArgumentException($"The training data ({train.Description}) has no images.", nameof(train));
        torch.set_num_threads(Options.Threads);

        int n = train.Count, batchSize = Math.Min(Options.BatchSize, n);
        int batches = (n + batchSize - 1) / batchSize;
        var order = new int[n];
        var records = new List<EpochRecord>();
        int firstEpoch = Model.History.Count + 1;
        _backend.Module.train();
        for (int e = 0; e < Options.Epochs; e++)
        {
            int epoch = firstEpoch + e;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) order[i] = i;
            if (Options.Shuffle) _shuffleRandom.Shuffle(order);
            double lossSum = 0, recSum = 0, klSum = 0;
            for (int b = 0; b < batches; b++)
            {
                int start = b * batchSize, count = Math.Min(batchSize, n - start);
                SetBeta(batches);
                var (loss, rec, kl) = Step(train, order.AsSpan(start, count), epoch, b + 1, batches);
                lossSum += loss * count; recSum += rec; klSum += kl;
                _stepsDone++;
                progress?.Invoke(new TrainingProgress(epoch, firstEpoch + Options.Epochs - 1, b + 1, batches, lossSum / (start + count), null));
                if (cancellation.IsCancellationRequested)
                {
                    _backend.SyncFromModel(Model); // back to the last completed epoch
                    return new TrainingResult(Model, records, Cancelled: true);
                }
            }
            double seconds = clock.Elapsed.TotalSeconds;
            var record = new EpochRecord
            {
                Epoch = epoch, TrainLoss = lossSum / n, TrainReconstruction = -recSum / n, TrainKl = klSum / n, Beta = CurrentBeta, Seconds = seconds,
            };
            if (validation is not null)
            {
                clock.Restart();
                var eval = Evaluate(validation, batchSize);
                record = record with { TestLoss = eval.Loss, TestReconstruction = eval.Reconstruction, TestKl = eval.Kl, TestSeconds = clock.Elapsed.TotalSeconds };
            }
            _backend.SyncToModel(Model);
            Model.AppendHistory(record);
            records.Add(record);
            if (Options.CheckpointPath is not null) ModelFile.Save(Model, Options.CheckpointPath);
            progress?.Invoke(new TrainingProgress(epoch, firstEpoch + Options.Epochs - 1, batches, batches, record.TrainLoss, record));
            if (cancellation.IsCancellationRequested) return new TrainingResult(Model, records, Cancelled: true);
        }
        return new TrainingResult(Model, records, Cancelled: false);
    }

    private void SetBeta(int batchesPerEpoch)
    {
        double beta = Model.Config.Beta;
        if (Options.KlWarmupEpochs > 0)
            beta *= Math.Min(1.0, _stepsDone / ((double)Options.KlWarmupEpochs * batchesPerEpoch));
        CurrentBeta = beta;
    }

    /// <summary>Copies the rows into a tensor [count x D] on the module's device (inside the caller's dispose scope).</summary>
    private Tensor Rows(IDataset data, ReadOnlySpan<int> rows, RandomSource random)
    {
        int d = Model.Config.InputDim, len = rows.Length * d;
        if (_x.Length < len) _x = new float[len];
        data.CopyRows(rows, _x.AsSpan(0, len), random);
        var x = empty(rows.Length, d, dtype: float32);
        using (var acc = x.data<float>()) acc.CopyFrom(new ReadOnlySpan<float>(_x, 0, len));
        return _backend.Module.Device.type == DeviceType.CPU ? x : x.to(_backend.Module.Device);
    }

    private static double SumPerImage(Tensor perRow, int images) => perRow.sum().item<float>() * ((double)images / perRow.numel());

    private (double Loss, double Rec, double Kl) Step(IDataset data, ReadOnlySpan<int> rows, int epoch, int batch, int batches)
    {
        using var scope = NewDisposeScope();
        var x = Rows(data, rows, _dataRandom);
        var parts = new VaeMath<Tensor>(Model.Config, _ops).Loss(x, Options.Objective, Options.Samples, (float)CurrentBeta);
        double loss = parts.Loss.item<float>();
        if (!double.IsFinite(loss)) Diverged(data, rows, epoch, batch, batches, loss);
        _optimizer.zero_grad();
        parts.Loss.backward();
        _optimizer.step();
        double rec = SumPerImage(parts.LogLikelihood, rows.Length);
        double kl = parts.Kl is null ? 0 : SumPerImage(parts.Kl, rows.Length);
        return (loss, rec, kl);
    }

    /// <summary>The loss and its parts on <paramref name="data"/> without training (z sampled, as in training).</summary>
    public VaeTrainer.Evaluation Evaluate(IDataset data, int batchSize = 0)
    {
        Model.CheckInputWidth(data.Features, $"The data ({data.Description})");
        if (batchSize <= 0) batchSize = Options.BatchSize;
        var saved = _ops.Random;
        _ops.Random = _evalRandom;
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
                var x = Rows(data, rows.AsSpan(0, count), _evalRandom);
                var parts = new VaeMath<Tensor>(Model.Config, _ops).Loss(x, Options.Objective, Options.Samples, (float)CurrentBeta);
                loss += parts.Loss.item<float>() * (double)count;
                rec += SumPerImage(parts.LogLikelihood, count);
                if (parts.Kl is not null) kl += SumPerImage(parts.Kl, count);
            }
            return new VaeTrainer.Evaluation(loss / n, -rec / n, kl / n, n);
        }
        finally { _ops.Random = saved; }
    }

    private void Diverged(IDataset data, ReadOnlySpan<int> rows, int epoch, int batch, int batches, double loss)
    {
        _backend.SyncFromModel(Model);
        int d = Model.Config.InputDim;
        for (int r = 0; r < rows.Length; r++)
        for (int c = 0; c < d; c++)
        {
            float v = _x[r * d + c];
            if (!float.IsFinite(v))
                throw new TrainingDivergedException(
                    $"The training data ({data.Description}) contains {v} at image {rows[r]}, pixel {c} (epoch {epoch}, batch {batch} of {batches}). " +
                    "The model was left as it was after the last completed epoch.", epoch, batch);
        }
        throw new TrainingDivergedException(
            $"The loss became {loss} in epoch {epoch}, batch {batch} of {batches}. The model was left as it was after the last completed epoch. " +
            "Try a smaller learning rate (e.g. 1e-4) or a different seed.", epoch, batch);
    }

    public void Dispose() => _optimizer.Dispose();
}
