using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;
using VaeTools.Tests.Commands;

namespace VaeTools.Tests.Model;

/// <summary>Training history finer than the epoch (-LogInterval) and the per-epoch hook (-OnEpoch).</summary>
public sealed class BatchHistoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-batches-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TensorDataset Data(int n = 100)
    {
        var t = new Tensor(n, 12);
        new RandomSource(4).FillUniform(t.Span, 0f, 1f);
        return new TensorDataset(t, Enumerable.Range(0, n).Select(i => i % 3).ToArray(), "random rows");
    }

    private static VaeModel Model() => new(new VaeConfig { InputDim = 12, HiddenDims = new[] { 8 }, LatentDim = 2, Seed = 6 });

    [Fact]
    public void Records_average_every_N_batches_and_each_epoch_s_last_ones()
    {
        var data = Data();
        var model = Model();
        // Each batch's summed loss, recovered from the progress reports' running mean (independent of the records).
        var batchLoss = new List<double>();
        double previousTotal = 0;
        int seen = 0;
        using (var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 2, BatchSize = 10, LogInterval = 3, Threads = 1 }))
            trainer.Train(data, progress: p =>
            {
                if (p.CompletedEpoch is not null) return;
                int images = p.Batch * 10;
                double total = p.RunningLoss * images;
                if (p.Batch == 1) { previousTotal = 0; seen = 0; }
                batchLoss.Add(total - previousTotal);
                previousTotal = total;
                seen = images;
            });

        var records = model.BatchHistory;
        // Batches 3, 6, 9 and the epoch's last, 10, in each of two epochs; steps count on across epochs.
        Assert.Equal(new[] { 3, 6, 9, 10, 3, 6, 9, 10 }, records.Select(r => r.Batch));
        Assert.Equal(new long[] { 3, 6, 9, 10, 13, 16, 19, 20 }, records.Select(r => r.Step));
        Assert.Equal(new long[] { 1, 4, 7, 10, 11, 14, 17, 20 }, records.Select(r => r.FirstStep));
        Assert.Equal(new[] { 1, 1, 1, 1, 2, 2, 2, 2 }, records.Select(r => r.Epoch));
        foreach (var r in records)
        {
            double expected = Enumerable.Range((int)r.FirstStep - 1, (int)(r.Step - r.FirstStep + 1)).Sum(s => batchLoss[s]) / (10.0 * (r.Step - r.FirstStep + 1));
            Assert.Equal(expected, r.TrainLoss, 9);
        }
        // The epoch's loss is the image-weighted mean of its records.
        foreach (var epoch in model.History)
        {
            var mine = records.Where(r => r.Epoch == epoch.Epoch).ToList();
            double weighted = mine.Sum(r => r.TrainLoss * (r.Step - r.FirstStep + 1)) / mine.Sum(r => r.Step - r.FirstStep + 1);
            Assert.Equal(epoch.TrainLoss, weighted, 9);
            Assert.Equal(epoch.TrainKl, mine.Sum(r => r.TrainKl * (r.Step - r.FirstStep + 1)) / 10.0, 9);
        }

        // A second training numbers its steps on; the file keeps every record.
        using (var more = new VaeTrainer(model, new TrainingOptions { Epochs = 1, BatchSize = 50, LogInterval = 1, Threads = 1 })) more.Train(data);
        Assert.Equal(new long[] { 21, 22 }, model.BatchHistory.Skip(8).Select(r => r.Step));
        string path = Path.Combine(_dir, "m.safetensors");
        ModelFile.Save(model, path);
        Assert.Equal(model.BatchHistory, ModelFile.Load(path).BatchHistory);
        Assert.Equal(model.BatchHistory, model.Clone().BatchHistory);
    }

    [Fact]
    public void An_interrupted_epoch_keeps_none_of_its_records_and_no_interval_keeps_none_at_all()
    {
        var data = Data();
        var model = Model();
        using var stop = new CancellationTokenSource();
        using (var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 10, LogInterval = 2, Threads = 1 }))
        {
            var result = trainer.Train(data, progress: p => { if (p.Epoch == 2 && p.Batch == 7) stop.Cancel(); }, cancellation: stop.Token);
            Assert.True(result.Cancelled);
        }
        Assert.Single(model.History);
        Assert.Equal(5, model.BatchHistory.Count); // epoch 1's batches 2, 4, 6, 8, 10 only
        Assert.All(model.BatchHistory, r => Assert.Equal(1, r.Epoch));

        var quiet = Model();
        using (var trainer = new VaeTrainer(quiet, new TrainingOptions { Epochs = 1, BatchSize = 10, Threads = 1 })) trainer.Train(data);
        Assert.Empty(quiet.BatchHistory);
        Assert.Throws<ArgumentException>(() => new TrainingOptions { LogInterval = -1 }.Validate());
    }

    [Fact]
    public void OnEpoch_sees_each_epoch_and_false_stops_early_keeping_that_epoch()
    {
        var data = Data();
        var model = Model();
        var seen = new List<(int Epoch, int HistoryCount)>();
        var sink = new RecordingSink();
        var logic = new TrainingLogic(new TrainingParameters
        {
            Epochs = 5, BatchSize = 25, ThrottleLimit = 1, HandleSignals = false,
            OnEpoch = (m, r) => { seen.Add((r.Epoch, m.History.Count)); return r.Epoch < 2; },
        });
        logic.Process(sink, model, data, CancellationToken.None);
        Assert.Equal(new[] { (1, 1), (2, 2) }, seen);
        Assert.Equal(2, model.History.Count);
        Assert.Same(model, sink.Single<VaeModel>());
        Assert.Empty(sink.Warnings);
        Assert.Empty(sink.Errors);
        Assert.Contains(sink.Verbose, v => v.Contains("-OnEpoch stopped the training after epoch 2"));
        Assert.False(logic.Stopped); // not a Ctrl+C: the next input still trains
        logic.Process(new RecordingSink(), Model(), data, CancellationToken.None);
    }

    [Fact]
    public void An_error_in_OnEpoch_stops_the_training_cleanly_with_the_epoch_kept()
    {
        var data = Data();
        var model = Model();
        string checkpoint = Path.Combine(_dir, "c.safetensors");
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters
        {
            Epochs = 4, BatchSize = 25, ThrottleLimit = 1, HandleSignals = false, CheckpointPath = checkpoint,
            OnEpoch = (m, r) => r.Epoch == 3 ? throw new InvalidOperationException("disk full") : true,
        }).Process(sink, model, data, CancellationToken.None);
        var error = Assert.Single(sink.Errors);
        Assert.Equal(("EpochHookFailed", ErrorKind.InvalidOperation), (error.ErrorId, error.Category));
        Assert.Contains("disk full", error.Message);
        Assert.Contains("after epoch 3", error.Message);
        Assert.Same(model, error.Target);
        Assert.Equal(3, model.History.Count);
        Assert.Equal(3, ModelFile.Load(checkpoint).History.Count); // the checkpoint of epoch 3 was written before the hook ran
        Assert.Same(model, sink.Single<VaeModel>());
    }
}
