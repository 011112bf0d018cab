using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>One completed epoch. Losses are in nats per image (negative objective, summed over pixels).</summary>
public sealed record EpochRecord
{
    public int Epoch { get; init; }
    /// <summary>Mean training loss over the epoch's batches (weighted by batch size).</summary>
    public double TrainLoss { get; init; }
    /// <summary>Mean -log p(x|z) over the epoch (the reconstruction part), or -log p(x) estimate for decoder-only models.</summary>
    public double TrainReconstruction { get; init; }
    /// <summary>Mean KL(q(z|x) || p(z)) over the epoch (unweighted by beta); 0 for decoder-only models.</summary>
    public double TrainKl { get; init; }
    /// <summary>Loss on the validation data after the epoch, or null without validation data.</summary>
    public double? TestLoss { get; init; }
    public double? TestReconstruction { get; init; }
    public double? TestKl { get; init; }
    /// <summary>The KL weight in force at the end of the epoch (it ramps during a warm-up).</summary>
    public double Beta { get; init; }
    /// <summary>Wall-clock seconds of the epoch's training pass (validation excluded).</summary>
    public double Seconds { get; init; }
    /// <summary>Wall-clock seconds of the validation pass.</summary>
    public double TestSeconds { get; init; }
}

/// <summary>
/// The training loss over a run of batches, finer than the epoch (<see cref="TrainingOptions.LogInterval"/>): the
/// per-iteration curve. Means per image over the batches from <see cref="FirstStep"/> to <see cref="Step"/>.
/// </summary>
public sealed record BatchRecord
{
    public int Epoch { get; init; }
    /// <summary>The last batch of the run within its epoch (1-based).</summary>
    public int Batch { get; init; }
    /// <summary>The last optimiser step of the run (1-based), numbered on from the model's previous per-batch record.</summary>
    public long Step { get; init; }
    /// <summary>The first step of the run.</summary>
    public long FirstStep { get; init; }
    /// <summary>Mean training loss per image over the run's batches.</summary>
    public double TrainLoss { get; init; }
    /// <summary>Mean -log p(x|z) per image over the run.</summary>
    public double TrainReconstruction { get; init; }
    /// <summary>Mean KL per image over the run (NaN for objectives that do not compute it, such as IWAE).</summary>
    public double TrainKl { get; init; }
    /// <summary>The KL weight at the run's last step.</summary>
    public double Beta { get; init; }
}

/// <summary>How to train. Defaults are the classic reference run's (Adam 1e-3, batch 128, 10 epochs).</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    public float LearningRate { get; init; } = 1e-3f;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    /// <summary>Seed of the shuffling and noise streams; null uses the model's seed.</summary>
    public ulong? Seed { get; init; }
    /// <summary>
    /// Threads that run the shares of every batch (at most <see cref="Shares"/> of them take part; a decoder-only
    /// model's products use them all). The model does not depend on it: the same seed gives a bitwise-identical model
    /// on any number of threads.
    /// </summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>
    /// Parts each batch is split into, each with its own noise stream (ignored by decoder-only models). Changing it
    /// changes the run; the thread count does not.
    /// </summary>
    public int Shares { get; init; } = 2;
    public Objective Objective { get; init; } = Objective.Elbo;
    /// <summary>Samples of z per image (K) for the ELBO average or the IWAE bound.</summary>
    public int Samples { get; init; } = 1;
    /// <summary>Epochs over which beta ramps linearly from 0 to the model's Beta; 0 for none.</summary>
    public int KlWarmupEpochs { get; init; }
    /// <summary>Shuffle the training data each epoch.</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>When set, the model with its optimiser state is written here (atomically) after every epoch.</summary>
    public string? CheckpointPath { get; init; }
    /// <summary>
    /// Every this many batches (and at each epoch's last batch) a <see cref="BatchRecord"/> of the batches since the
    /// last one joins the model's <see cref="VaeModel.BatchHistory"/>, kept with the epoch it belongs to; 0 for none.
    /// </summary>
    public int LogInterval { get; init; }

    public void Validate()
    {
        if (Epochs < 0) throw Bad(nameof(Epochs), Epochs, "0 or more");
        if (BatchSize <= 0) throw Bad(nameof(BatchSize), BatchSize, "a positive number of images");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw Bad(nameof(LearningRate), LearningRate, "a positive finite number");
        if (Threads <= 0) throw Bad(nameof(Threads), Threads, "1 or more");
        if (Shares <= 0) throw Bad(nameof(Shares), Shares, "1 or more");
        if (Samples <= 0) throw Bad(nameof(Samples), Samples, "1 or more");
        if (KlWarmupEpochs < 0) throw Bad(nameof(KlWarmupEpochs), KlWarmupEpochs, "0 or more");
        if (LogInterval < 0) throw Bad(nameof(LogInterval), LogInterval, "0 (no per-batch records) or a positive number of batches");
        if (!Enum.IsDefined(Optimizer)) throw Bad(nameof(Optimizer), Optimizer, string.Join(", ", Enum.GetNames<OptimizerKind>()));
    }

    private static ArgumentException Bad(string name, object value, string expected) =>
        new($"TrainingOptions.{name} is {value}; expected {expected}.", name);
}

/// <summary>Reported after every batch (a struct: reporting allocates nothing).</summary>
public readonly record struct TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, double RunningLoss, EpochRecord? CompletedEpoch);

/// <summary>The loss became NaN or infinite; the model was put back to its last good state.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(string message, int epoch, int batch) : base(message)
    {
        Epoch = epoch;
        Batch = batch;
    }

    public int Epoch { get; }
    public int Batch { get; }
}

/// <summary>What a training run did.</summary>
public sealed record TrainingResult(VaeModel Model, IReadOnlyList<EpochRecord> Epochs, bool Cancelled);

/// <summary>The model is being trained by another thread (a model trains one run at a time).</summary>
public sealed class ModelInUseException : InvalidOperationException
{
    public ModelInUseException(string message) : base(message) { }
}
