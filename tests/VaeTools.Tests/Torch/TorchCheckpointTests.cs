using VaeTools.IO;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;
using VaeTools.Tests.Commands;
using VaeTools.Torch;

namespace VaeTools.Tests.Torch;

/// <summary>
/// Issue 12, the trainer split: the Torch engine trains through the same loop as the managed one, so it has per-batch
/// records, snapshot and restore of torch.optim's state on cancel and divergence, checkpoints with optimiser and random
/// state, and -Resume; and a checkpoint written on one engine resumes on the other.
/// </summary>
public sealed class TorchCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-torch-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly VaeConfig Config = new() { HiddenDims = new[] { 32 }, LatentDim = 3, Seed = 7 };
    private static readonly MnistDataset Data = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Count = 400 });

    private static VaeModel OnTorch(VaeModel model)
    {
        TorchBackend.Attach(model);
        return model;
    }

    private static float[][] Weights(VaeModel m) => m.Parameters.Select(p => m.ReadParameter(p.Name).ToArray()).ToArray();

    /// <summary>The weights the Torch module holds (not the model's managed copy).</summary>
    private static float[][] ModuleWeights(VaeModel m)
    {
        var copy = m.Clone();
        m.Backend!.SyncToModel(copy);
        return Weights(copy);
    }

    private static void AssertBitwise(float[][] a, float[][] b, string what)
    {
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
        for (int j = 0; j < a[i].Length; j++)
            Assert.True(BitConverter.SingleToInt32Bits(a[i][j]) == BitConverter.SingleToInt32Bits(b[i][j]), $"{what}: parameter {i} element {j}: {a[i][j]} vs {b[i][j]}");
    }

    private static double MaxAbsDifference(float[][] a, float[][] b) =>
        a.Zip(b).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs((double)q.First - q.Second)));

    [Fact]
    public void Log_interval_on_torch_keeps_per_batch_records_that_average_to_the_epoch_loss()
    {
        var model = OnTorch(new VaeModel(Config));
        try
        {
            // 400 images in batches of 40: 10 batches an epoch; a record every 3 batches and at the epoch's last.
            using (var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 2, BatchSize = 40, LogInterval = 3, Threads = 1, Seed = 2 }))
                trainer.Train(Data);
            var records = model.BatchHistory;
            Assert.Equal(new long[] { 3, 6, 9, 10, 13, 16, 19, 20 }, records.Select(r => r.Step));
            Assert.Equal(new long[] { 1, 4, 7, 10, 11, 14, 17, 20 }, records.Select(r => r.FirstStep));
            Assert.Equal(new[] { 3, 6, 9, 10, 3, 6, 9, 10 }, records.Select(r => r.Batch));
            Assert.Equal(new[] { 1, 1, 1, 1, 2, 2, 2, 2 }, records.Select(r => r.Epoch));
            foreach (var epoch in model.History)
            {
                // Every batch has 40 images, so the epoch's mean is the batch-weighted mean of its records.
                var mine = records.Where(r => r.Epoch == epoch.Epoch).ToArray();
                double mean = mine.Sum(r => r.TrainLoss * (r.Step - r.FirstStep + 1)) / 10;
                Assert.Equal(epoch.TrainLoss, mean, 1e-6 * Math.Abs(epoch.TrainLoss));
                double kl = mine.Sum(r => r.TrainKl * (r.Step - r.FirstStep + 1)) / 10;
                Assert.Equal(epoch.TrainKl, kl, 1e-6 * Math.Max(1, Math.Abs(epoch.TrainKl)));
            }
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Cancelled_on_torch_puts_the_weights_and_torch_optim_state_back_to_the_epoch_end()
    {
        var model = OnTorch(new VaeModel(Config));
        try
        {
            using var cts = new CancellationTokenSource();
            float[][]? weightsAtEpoch1 = null;
            TrainingCheckpoint? stateAtEpoch1 = null;
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 40, Threads = 1, Seed = 3 });
            var result = trainer.Train(Data, progress: p =>
            {
                if (p.CompletedEpoch is { Epoch: 1 })
                {
                    weightsAtEpoch1 = ModuleWeights(model);
                    stateAtEpoch1 = trainer.CreateCheckpoint();
                }
                if (p.Epoch == 2 && p.Batch == 4) cts.Cancel();
            }, cancellation: cts.Token);

            Assert.True(result.Cancelled);
            Assert.Single(model.History);
            AssertBitwise(weightsAtEpoch1!, Weights(model), "the model's weights");
            AssertBitwise(weightsAtEpoch1!, ModuleWeights(model), "the module's weights");
            var state = trainer.CreateCheckpoint();
            Assert.Equal(10, stateAtEpoch1!.Steps);
            Assert.Equal(10, state.Steps); // the four steps of epoch 2 were undone
            Assert.Equal(stateAtEpoch1.OptimizerState.Keys.Order(), state.OptimizerState.Keys.Order());
            foreach (var (name, value) in stateAtEpoch1.OptimizerState)
                Assert.True(value.Span.SequenceEqual(state.OptimizerState[name].Span), $"torch.optim's {name} was not restored");
            Assert.Contains(state.OptimizerState.Values, v => v.Span.ToArray().Any(x => x != 0)); // Adam's moments are not all zero
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Diverging_on_torch_stops_with_epoch_and_batch_and_keeps_the_last_good_model()
    {
        var model = OnTorch(new VaeModel(Config));
        try
        {
            using (var t = new VaeTrainer(model, new TrainingOptions { Epochs = 1, BatchSize = 40, Threads = 1 })) t.Train(Data);
            var good = Weights(model);
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 40, Threads = 1, Optimizer = OptimizerKind.Sgd, LearningRate = 1e12f });
            var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(Data));
            Assert.Equal(2, e.Epoch);
            Assert.Contains($"batch {e.Batch} of 10", e.Message);
            Assert.Contains("learning rate", e.Message);
            AssertBitwise(good, Weights(model), "the model's weights");
            AssertBitwise(good, ModuleWeights(model), "the module's weights");
            Assert.Single(model.History);
        }
        finally { TorchBackend.Detach(model); }
    }

    /// <summary>Image <paramref name="badImage"/> has NaN at pixel <paramref name="badPixel"/> (a data set that does not check, e.g. a user's).</summary>
    private sealed class NaNDataset(IDataset inner, int badImage, int badPixel) : IDataset
    {
        public int Count => inner.Count;
        public int Features => inner.Features;
        public string Description => "data with a NaN";
        public int GetLabel(int index) => inner.GetLabel(index);
        public void CopyRows(ReadOnlySpan<int> indices, Span<float> destination, RandomSource? random)
        {
            inner.CopyRows(indices, destination, random);
            for (int r = 0; r < indices.Length; r++)
                if (indices[r] == badImage) destination[r * Features + badPixel] = float.NaN;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NaN_in_the_data_is_named_by_image_and_pixel_on_either_engine(bool torch)
    {
        var model = new VaeModel(Config);
        if (torch) OnTorch(model);
        try
        {
            var good = Weights(model);
            // Image 77 (in the second share of its batch on the managed engine: 40-image batches, unshuffled) has NaN at pixel 300.
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 1, BatchSize = 40, Threads = 1, Shuffle = false });
            var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(new NaNDataset(Data, 77, 300)));
            Assert.Contains("contains NaN at image 77, pixel 300", e.Message);
            Assert.Contains("batch 2 of 10", e.Message);
            AssertBitwise(good, Weights(model), "the weights");
        }
        finally { if (torch) TorchBackend.Detach(model); }
    }

    [Fact]
    public void A_torch_checkpoint_resumed_on_torch_gives_the_uninterrupted_runs_weights()
    {
        var options = new TrainingOptions { Epochs = 3, BatchSize = 40, Threads = 1, Seed = 5, LogInterval = 4 };
        var straight = OnTorch(new VaeModel(Config));
        string path = Path.Combine(_dir, "torch.safetensors");
        try
        {
            using (var t = new VaeTrainer(straight, options)) t.Train(Data, validation: Data);

            var first = OnTorch(new VaeModel(Config));
            using (var t = new VaeTrainer(first, options with { Epochs = 1, CheckpointPath = path })) t.Train(Data, validation: Data);
            TorchBackend.Detach(first);
            var (loaded, checkpoint) = ModelFile.LoadWithCheckpoint(path);
            Assert.NotNull(checkpoint);
            Assert.Equal(10, checkpoint!.Steps);
            Assert.Equal(4, checkpoint.RandomStates.Count); // shuffle, evaluation, noise, data
            Assert.Contains(checkpoint.OptimizerState.Keys, k => k == "encoder.hidden.0.weight.exp_avg_sq");
            OnTorch(loaded);
            try
            {
                using (var t = new VaeTrainer(loaded, options with { Epochs = 2 }, checkpoint))
                {
                    Assert.Equal(10, t.TrainingStep.StepCount);
                    t.Train(Data, validation: Data);
                    Assert.Equal(30, t.TrainingStep.StepCount);
                }
                double diff = MaxAbsDifference(Weights(straight), Weights(loaded));
                Assert.True(diff <= 1e-5, $"resumed weights differ from the uninterrupted run's by up to {diff}");
                Assert.Equal(new[] { 1, 2, 3 }, loaded.History.Select(h => h.Epoch));
                for (int i = 0; i < 3; i++)
                {
                    Assert.Equal(straight.History[i].TrainLoss, loaded.History[i].TrainLoss, 1e-5 * straight.History[i].TrainLoss);
                    Assert.Equal(straight.History[i].TestLoss!.Value, loaded.History[i].TestLoss!.Value, 1e-5 * straight.History[i].TestLoss!.Value);
                }
                Assert.Equal(straight.BatchHistory.Select(b => b.Step), loaded.BatchHistory.Select(b => b.Step));
            }
            finally { TorchBackend.Detach(loaded); }
        }
        finally { TorchBackend.Detach(straight); }
    }

    [Fact]
    public void Checkpoints_of_both_engines_hold_the_same_optimiser_tensors_in_the_file_layout()
    {
        var options = new TrainingOptions { Epochs = 1, BatchSize = 40, Threads = 1, Seed = 6, Shares = 1 };
        string managedPath = Path.Combine(_dir, "managed.safetensors"), torchPath = Path.Combine(_dir, "torch.safetensors");
        using (var t = new VaeTrainer(new VaeModel(Config), options with { CheckpointPath = managedPath })) t.Train(Data);
        var torchModel = OnTorch(new VaeModel(Config));
        try { using (var t = new VaeTrainer(torchModel, options with { CheckpointPath = torchPath })) t.Train(Data); }
        finally { TorchBackend.Detach(torchModel); }

        SafeTensor[] Optimizer(string path) => SafeTensorsFile.Read(path).Tensors.Where(t => t.Name.StartsWith("optimizer.")).OrderBy(t => t.Name).ToArray();
        var managed = Optimizer(managedPath);
        var torch = Optimizer(torchPath);
        Assert.Equal(managed.Select(t => t.Name), torch.Select(t => t.Name));
        Assert.Equal(2 * new VaeModel(Config).Parameters.Count, managed.Length); // exp_avg and exp_avg_sq of every parameter
        foreach (var (m, t) in managed.Zip(torch)) Assert.Equal(m.Shape, t.Shape);
        // torch.optim's layout: a weight's state [out x in] (also where the managed engine holds the weight input-major), a bias's [out].
        Assert.Equal(new[] { 32, 784 }, managed.Single(t => t.Name == "optimizer.encoder.hidden.0.weight.exp_avg").Shape);
        Assert.Equal(new[] { 784, 32 }, managed.Single(t => t.Name == "optimizer.decoder.output.weight.exp_avg").Shape);
        Assert.Equal(new[] { 784 }, managed.Single(t => t.Name == "optimizer.decoder.output.bias.exp_avg_sq").Shape);
        // Same data, seed and noise (one share): after one epoch the two engines' moments agree closely.
        var m0 = managed.Single(t => t.Name == "optimizer.encoder.mean.weight.exp_avg_sq").Data;
        var t0 = torch.Single(t => t.Name == "optimizer.encoder.mean.weight.exp_avg_sq").Data;
        double scale = m0.Max(Math.Abs);
        Assert.True(scale > 0);
        Assert.True(m0.Zip(t0).Max(p => Math.Abs(p.First - p.Second)) <= 1e-2 * scale, "the engines' second moments disagree");
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Adagrad)]
    [InlineData(OptimizerKind.Sgd)]
    public void A_checkpoint_resumes_on_the_other_engine_carrying_the_optimiser_state(OptimizerKind optimizer)
    {
        // One share: the managed step then draws its noise and data from the same streams as the Torch step, so the two
        // engines run the same computation up to rounding, and a run resumed across engines stays close to either engine's
        // uninterrupted run.
        var options = new TrainingOptions { Epochs = 1, BatchSize = 40, Threads = 1, Seed = 8, Shares = 1, Optimizer = optimizer, LearningRate = optimizer == OptimizerKind.Sgd ? 1e-3f : 3e-3f };
        var straight = new VaeModel(Config);
        using (var t = new VaeTrainer(straight, options with { Epochs = 2 })) t.Train(Data);

        foreach (bool fromManaged in new[] { true, false })
        {
            string path = Path.Combine(_dir, $"{optimizer}-{fromManaged}.safetensors");
            var first = new VaeModel(Config);
            if (!fromManaged) OnTorch(first);
            using (var t = new VaeTrainer(first, options with { CheckpointPath = path })) t.Train(Data);
            if (!fromManaged) TorchBackend.Detach(first);

            var (loaded, checkpoint) = ModelFile.LoadWithCheckpoint(path);
            Assert.Equal(10, checkpoint!.Steps);
            if (fromManaged) OnTorch(loaded);
            try
            {
                using var trainer = new VaeTrainer(loaded, options, checkpoint);
                // The state went in as saved: read back out of the other engine's optimiser, it is the checkpoint's.
                Assert.Equal(10, trainer.TrainingStep.StepCount);
                foreach (var (name, value) in trainer.TrainingStep.ReadOptimizerState())
                    Assert.True(value.Span.SequenceEqual(checkpoint.OptimizerState[name].Span), $"{name} changed on its way into the {loaded.Engine} engine");
                trainer.Train(Data);
                Assert.Equal(20, trainer.TrainingStep.StepCount);
            }
            finally { if (fromManaged) TorchBackend.Detach(loaded); }

            string how = fromManaged ? "managed checkpoint resumed on Torch" : "Torch checkpoint resumed on managed";
            Assert.Equal(new[] { 1, 2 }, loaded.History.Select(h => h.Epoch));
            double expected = straight.History[1].TrainLoss, got = loaded.History[1].TrainLoss;
            Assert.True(Math.Abs(got - expected) <= 2e-3 * expected, $"{how}: epoch 2 loss {got}, uninterrupted managed run {expected}");
            double diff = MaxAbsDifference(Weights(straight), Weights(loaded));
            Assert.True(diff <= 5e-2, $"{how}: weights differ from the uninterrupted run's by up to {diff}");
        }
    }

    [Fact]
    public void Invoke_vae_training_resumes_a_torch_checkpoint_in_place_as_the_uninterrupted_run()
    {
        // -CheckpointPath, then -Resume -UntilEpoch on a fresh Torch model: the refusal (ResumeNotSupportedOnTorch) is gone.
        string path = Path.Combine(_dir, "logic.safetensors");
        TrainingParameters Parameters(int until, bool resume) => new()
        {
            UntilEpoch = until, BatchSize = 40, Seed = 9, ThrottleLimit = 1, HandleSignals = false,
            CheckpointPath = resume || until == 1 ? path : null, Resume = resume,
        };
        var first = new RecordingSink();
        var model1 = OnTorch(new VaeModel(Config));
        var fresh = OnTorch(new VaeModel(Config));
        var straight = OnTorch(new VaeModel(Config));
        try
        {
            new TrainingLogic(Parameters(1, resume: false)).Process(first, model1, Data, CancellationToken.None);
            Assert.Empty(first.Errors);
            Assert.True(File.Exists(path));

            var second = new RecordingSink();
            new TrainingLogic(Parameters(3, resume: true)).Process(second, fresh, Data, CancellationToken.None);
            Assert.Empty(second.Errors);
            Assert.Same(fresh, second.Single<VaeModel>());
            Assert.Equal("Torch", fresh.Engine);
            Assert.Equal(new[] { 1, 2, 3 }, fresh.History.Select(h => h.Epoch));
            Assert.Contains(second.Verbose, v => v.Contains("Resuming from") && v.Contains("after epoch 1"));

            new TrainingLogic(Parameters(3, resume: false)).Process(new RecordingSink(), straight, Data, CancellationToken.None);
            double diff = MaxAbsDifference(Weights(straight), Weights(fresh));
            Assert.True(diff <= 1e-5, $"resumed through Invoke-VaeTraining's logic, the weights differ from the uninterrupted run's by up to {diff}");
            Assert.Equal(3, ModelFile.Load(path).History.Count);
        }
        finally
        {
            TorchBackend.Detach(model1);
            TorchBackend.Detach(fresh);
            TorchBackend.Detach(straight);
        }
    }
}
