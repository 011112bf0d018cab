using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.Model;

/// <summary>
/// One engine's half of training: what <see cref="VaeTrainer"/>'s engine-neutral loop (epochs, shuffling, beta warm-up,
/// divergence, cancellation, records, checkpoints) asks of an engine. The managed engine's step
/// (<see cref="ManagedTrainingStep"/>) runs replicas of the loss graph on its threads; the Torch engine's (VaeTools.Torch)
/// runs the module with libtorch's autograd and torch.optim. A model's engine makes its step
/// (<see cref="IModelBackend.CreateTrainingStep"/>; the managed step when the model has no backend).
/// </summary>
/// <remarks>
/// Optimiser state crosses this seam in one naming and one layout for both engines: the managed optimisers' names
/// (<see cref="Optimizer.StateTensors"/>: "PARAMETER.exp_avg", ".exp_avg_sq", ".momentum_buffer", ".sum") and each
/// parameter's file layout ([out x in] weights, [1 x out] biases), so a checkpoint written on one engine resumes on the other.
/// </remarks>
public interface ITrainingStep : IDisposable
{
    OptimizerKind Optimizer { get; }
    float LearningRate { get; }
    /// <summary>Optimiser updates made so far (set by <see cref="WriteOptimizerState"/> and <see cref="RestoreSnapshot"/>).</summary>
    long StepCount { get; }
    /// <summary>The step's own random streams (noise and data, per share), in a fixed order; checkpoints save them after the loop's.</summary>
    IReadOnlyList<RandomSource> Streams { get; }

    /// <summary>When set, training steps add their phases' times to it ("step: ..." entries; the benchmark's --profile).</summary>
    OpProfile? Profile { get; set; }

    /// <summary>The KL weight of the next steps and evaluations.</summary>
    void SetBeta(double beta);

    /// <summary>
    /// One optimiser step on images order[start .. start + count): the batch's mean loss, and the sums over its images of
    /// log p(x|z) and of the KL. A non-finite loss is returned without changing the weights or the optimiser.
    /// </summary>
    (double Loss, double LogLikSum, double KlSum) Step(IDataset data, int[] order, int start, int count);

    /// <summary>The loss and its parts on <paramref name="data"/> without training, noise drawn from <paramref name="random"/>.</summary>
    VaeTrainer.Evaluation Evaluate(IDataset data, int batchSize, RandomSource random);

    /// <summary>Remembers the weights and the optimiser state (at an epoch's end).</summary>
    void TakeSnapshot();
    /// <summary>Puts the weights (the engine's and the model's) and the optimiser state back to the last snapshot.</summary>
    void RestoreSnapshot();

    /// <summary>Copies of the optimiser's state tensors, in the checkpoint naming and the parameters' file layout.</summary>
    IEnumerable<(string Name, Tensor Value)> ReadOptimizerState();
    /// <summary>Sets the optimiser's state (names and shapes as <see cref="ReadOptimizerState"/> gives them; checked by the caller) and step count.</summary>
    void WriteOptimizerState(IReadOnlyDictionary<string, Tensor> state, long steps);

    /// <summary>The first non-finite input value of the last step: its row within the batch, column and value; null when all were finite.</summary>
    (int Row, int Column, float Value)? FindNonFiniteInput();

    /// <summary>An epoch ended: the model's managed parameters must hold the trained weights (Torch copies them there).</summary>
    void EpochCompleted();
}
