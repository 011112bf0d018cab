using System.Diagnostics;
using TorchSharp;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.Torch;

namespace VaeTools.Tests.Torch;

/// <summary>Training on the Torch engine: real MNIST, one model file for both engines, cancellation, no native memory kept per step.</summary>
// Alone, after the parallel tests: its memory test reads the whole process's resident set, which other tests running beside it
// would grow (CI saw "grew by 64 MB" with them).
[Collection(TensorPipelineCollection.Name)]
public class TorchTrainingTests
{
    private static VaeModel TorchModel(VaeConfig config)
    {
        var model = new VaeModel(config);
        TorchBackend.Attach(model);
        return model;
    }

    [Fact]
    public void Reference_architecture_on_real_mnist_learns_on_the_torch_engine()
    {
        var train = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Train, Count = 10000 });
        var test = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Count = 1000 });
        var model = TorchModel(new VaeConfig { Seed = 1 }); // 784-400-20, ReLU, Bernoulli
        try
        {
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 2, BatchSize = 128, Seed = 1, Threads = 2 });
            double untrained = trainer.Evaluate(test).Loss;
            var result = trainer.Train(train, test);
            Assert.InRange(untrained, 450, 650);
            Assert.Equal(2, result.Epochs.Count);
            Assert.True(result.Epochs[1].TestLoss < 175, $"test loss after 2 epochs on 10000 images: {result.Epochs[1].TestLoss}");
            Assert.True(result.Epochs[1].TrainLoss < result.Epochs[0].TrainLoss);
            Assert.True(result.Epochs[1].TestKl > 5, "the KL term should be in use");
            Assert.Equal(2, model.History.Count);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void An_evaluation_batch_larger_than_the_training_batch_agrees_with_the_managed_engine_and_leaves_training_as_it_was()
    {
        // The Torch step copies each batch into one CPU tensor made for the training batch; a larger evaluation batch
        // must get a larger one, and the training batches after it must still see their own rows.
        var data = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Count = 700 });
        var config = new VaeConfig { HiddenDims = new[] { 32 }, LatentDim = 4, Seed = 5 };
        var options = new TrainingOptions { Epochs = 1, BatchSize = 50, Seed = 2, Threads = 1 };
        var model = TorchModel(config);
        var plain = TorchModel(config); // trained without the evaluation first
        var managed = new VaeModel(config);
        try
        {
            using var torchTrainer = new VaeTrainer(model, options);
            using var managedTrainer = new VaeTrainer(managed, options);
            var torchEval = torchTrainer.Evaluate(data, batchSize: 350);
            var managedEval = managedTrainer.Evaluate(data, batchSize: 350);
            Assert.True(Math.Abs(torchEval.Loss - managedEval.Loss) <= 1e-4 * Math.Abs(managedEval.Loss), $"Torch {torchEval.Loss}, managed {managedEval.Loss}.");
            // Evaluation noise is its own stream, so the training after it is bitwise the training without it.
            var afterEvaluation = torchTrainer.Train(data).Epochs[0];
            using var plainTrainer = new VaeTrainer(plain, options);
            var withoutEvaluation = plainTrainer.Train(data).Epochs[0];
            Assert.Equal(withoutEvaluation.TrainLoss, afterEvaluation.TrainLoss);
            Assert.Equal(plain.ReadParameter("decoder.output.weight").ToArray(), model.ReadParameter("decoder.output.weight").ToArray());
        }
        finally
        {
            TorchBackend.Detach(model);
            TorchBackend.Detach(plain);
        }
    }

    [Theory]
    [InlineData(Likelihood.Bernoulli, Objective.Elbo, 1)]
    [InlineData(Likelihood.GaussianPerDimensionVariance, Objective.Iwae, 3)]
    public void A_model_trained_on_torch_exported_and_imported_on_the_managed_engine_gives_the_same_loss(Likelihood likelihood, Objective objective, int samples)
    {
        var data = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Count = 600 });
        var model = TorchModel(new VaeConfig { HiddenDims = new[] { 64 }, LatentDim = 4, Likelihood = likelihood, SigmoidMean = likelihood != Likelihood.Bernoulli, Seed = 3 });
        var path = Path.Combine(Path.GetTempPath(), $"vaetools-cross-{Guid.NewGuid():N}.safetensors");
        try
        {
            var options = new TrainingOptions { Epochs = 1, BatchSize = 100, Seed = 9, Threads = 1, Objective = objective, Samples = samples };
            using var trainer = new VaeTrainer(model, options);
            trainer.Train(data);
            double torchLoss;
            using (var evaluator = new VaeTrainer(model, options)) torchLoss = evaluator.Evaluate(data).Loss;
            ModelFile.Save(model, path);

            var managed = ModelFile.Load(path);
            Assert.Null(managed.Backend);
            Assert.Single(managed.History);
            using var managedTrainer = new VaeTrainer(managed, options);
            double managedLoss = managedTrainer.Evaluate(data).Loss; // the same evaluation noise stream (same seed)
            Assert.True(Math.Abs(torchLoss - managedLoss) <= 1e-4 * Math.Abs(managedLoss), $"Torch {torchLoss}, managed {managedLoss}.");

            // And back: the managed model's file imported onto the Torch engine.
            var again = ModelFile.Load(path);
            TorchBackend.Attach(again);
            double againLoss;
            using (var evaluator = new VaeTrainer(again, options)) againLoss = evaluator.Evaluate(data).Loss;
            Assert.True(Math.Abs(againLoss - managedLoss) <= 1e-4 * Math.Abs(managedLoss), $"Torch again {againLoss}, managed {managedLoss}.");
            TorchBackend.Detach(again);
        }
        finally
        {
            TorchBackend.Detach(model);
            File.Delete(path);
        }
    }

    [Fact]
    public void Cancelled_keeps_the_last_completed_epoch()
    {
        var data = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Count = 500 });
        var model = TorchModel(new VaeConfig { HiddenDims = new[] { 32 }, LatentDim = 2, Seed = 4 });
        try
        {
            using var cts = new CancellationTokenSource();
            float[]? afterEpoch1 = null;
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 50, Threads = 1 });
            var result = trainer.Train(data, progress: p =>
            {
                if (p.CompletedEpoch is { Epoch: 1 }) afterEpoch1 = model.ReadParameter("decoder.output.weight").ToArray();
                if (p.Epoch == 2 && p.Batch == 3) cts.Cancel();
            }, cancellation: cts.Token);
            Assert.True(result.Cancelled);
            Assert.Single(model.History);
            Assert.Equal(afterEpoch1, model.ReadParameter("decoder.output.weight").ToArray());
            // The module was put back too.
            var fromModule = model.Clone();
            model.Backend!.SyncToModel(fromModule);
            Assert.Equal(afterEpoch1, fromModule.ReadParameter("decoder.output.weight").ToArray());
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void A_training_step_leaves_no_tensor_alive_and_native_memory_does_not_grow()
    {
        var data = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Count = 1000 });
        var model = TorchModel(new VaeConfig { HiddenDims = new[] { 128 }, LatentDim = 8, Seed = 5 });
        try
        {
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 1, BatchSize = 50, Threads = 1 });
            trainer.Train(data); // warm-up: optimiser state, allocator pools
            long liveBefore = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            long rssBefore = Rss();
            for (int e = 0; e < 6; e++) trainer.Train(data); // 120 more steps and 6 validation-free epochs
            long liveAfter = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            long rssAfter = Rss();
            Assert.True(liveBefore == liveAfter, $"live tensors {liveBefore} before, {liveAfter} after 120 steps.");
            Assert.True(rssAfter - rssBefore < 32L << 20, $"resident memory grew by {(rssAfter - rssBefore) >> 20} MB over 120 steps.");
        }
        finally { TorchBackend.Detach(model); }
    }

    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.WorkingSet64;
    }
}
