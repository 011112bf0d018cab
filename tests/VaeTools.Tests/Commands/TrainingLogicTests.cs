using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

public sealed class TrainingLogicTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-training-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly VaeConfig Config = new() { InputDim = 784, HiddenDims = new[] { 16 }, LatentDim = 2, Seed = 11 };
    private static readonly MnistDataset Data = SyntheticMnist.Create(120);

    /// <summary>A clock that moves one second each time it is read: every batch may report progress.</summary>
    private static Func<TimeSpan> FastClock()
    {
        var t = TimeSpan.Zero;
        return () => t += TimeSpan.FromSeconds(1);
    }

    private static bool SameParameters(VaeModel a, VaeModel b) =>
        a.Parameters.Zip(b.Parameters).All(p => p.First.Value.Span.SequenceEqual(p.Second.Value.Span));

    [Fact]
    public void Ctrl_C_during_an_epoch_emits_the_model_as_of_the_last_completed_epoch_and_ignores_further_input()
    {
        using var stop = new CancellationTokenSource();
        var sink = new RecordingSink();
        var model = new VaeModel(Config);
        var logic = new TrainingLogic(new TrainingParameters { Epochs = 3, BatchSize = 30 }, FastClock());
        // "Press Ctrl+C" on the first batch report of epoch 2.
        sink.OnProgress = r => { if (r.ActivityId == logic.BatchActivity && r.Activity.StartsWith("Epoch 2 ")) stop.Cancel(); };
        logic.Process(sink, model, Data, stop.Token);

        Assert.Same(model, sink.Single<VaeModel>());
        Assert.Single(model.History);
        Assert.True(logic.Stopped);
        Assert.Contains("after epoch 1", Assert.Single(sink.Warnings));
        Assert.Empty(sink.Errors);

        // The weights are those of an uninterrupted one-epoch run.
        var reference = new VaeModel(Config);
        new TrainingLogic(new TrainingParameters { Epochs = 1, BatchSize = 30 }).Process(new RecordingSink(), reference, Data, CancellationToken.None);
        Assert.True(SameParameters(reference, model), "the cancelled run's weights differ from a one-epoch run's");

        // Later pipeline objects are not trained.
        var next = new RecordingSink();
        logic.Process(next, new VaeModel(Config), Data, stop.Token);
        Assert.Empty(next.Output);
    }

    [Fact]
    public void Progress_reports_epochs_and_throttled_batches_and_closes_both_bars()
    {
        var frozen = TimeSpan.FromSeconds(5);
        var sink = new RecordingSink();
        var model = new VaeModel(Config);
        // Clock never moves: only the first batch report and the last batch of each epoch get through.
        var logic = new TrainingLogic(new TrainingParameters { Epochs = 3, BatchSize = 20 }, () => frozen);
        logic.Process(sink, model, Data, CancellationToken.None);

        var batch = sink.Progress.Where(p => p.ActivityId == logic.BatchActivity && !p.Completed).ToList();
        Assert.Equal(1 + 3, batch.Count);
        Assert.All(batch, p => Assert.Equal(logic.EpochActivity, p.ParentActivityId));
        Assert.Equal(new[] { 100, 100, 100 }, batch.Skip(1).Select(p => p.PercentComplete));
        Assert.Contains("Batch 6 of 6", batch[^1].Status); // 120 images / 20

        var epoch = sink.Progress.Where(p => p.ActivityId == logic.EpochActivity && !p.Completed).Select(p => p.PercentComplete).ToList();
        Assert.Equal(new[] { 0, 33, 66, 100 }, epoch);
        Assert.Contains(sink.Progress, p => p.ActivityId == logic.EpochActivity && p.Completed);
        Assert.Contains(sink.Progress, p => p.ActivityId == logic.BatchActivity && p.Completed);
        Assert.Equal(3, sink.Verbose.Count(v => v.StartsWith("Epoch ")));
        Assert.Single(sink.CallingThreads);
    }

    [Fact]
    public void Every_batch_reports_when_the_clock_allows()
    {
        var sink = new RecordingSink();
        var logic = new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 20 }, FastClock());
        logic.Process(sink, new VaeModel(Config), Data, CancellationToken.None);
        Assert.Equal(2 * 6, sink.Progress.Count(p => p.ActivityId == logic.BatchActivity && !p.Completed));
    }

    [Fact]
    public void Throttle_lets_one_report_through_per_interval()
    {
        var t = TimeSpan.Zero;
        var throttle = new ProgressThrottle(TimeSpan.FromMilliseconds(250), () => t += TimeSpan.FromMilliseconds(100));
        var ready = Enumerable.Range(0, 9).Select(_ => throttle.Ready()).ToArray();
        // Reads at 100, 200, ..., 900 ms: through at 100, 400 (300 later), 700.
        Assert.Equal(new[] { true, false, false, true, false, false, true, false, false }, ready);
    }

    [Fact]
    public void Data_of_another_width_is_an_InvalidArgument_error_targeting_the_data()
    {
        var data = new TensorDataset(new Tensor(10, 16));
        var sink = new RecordingSink();
        var model = new VaeModel(Config);
        new TrainingLogic(new TrainingParameters { Epochs = 1 }).Process(sink, model, data, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(data, e.Target);
        Assert.Contains("16", e.Message);
        Assert.Contains("784", e.Message);
        Assert.Empty(sink.Output);
        Assert.Empty(model.History);
    }

    [Fact]
    public void Validation_data_of_another_width_is_reported_before_training()
    {
        var validation = new TensorDataset(new Tensor(4, 10));
        var sink = new RecordingSink();
        var model = new VaeModel(Config);
        new TrainingLogic(new TrainingParameters { Epochs = 1, ValidationData = validation }).Process(sink, model, Data, CancellationToken.None);
        Assert.Same(validation, Assert.Single(sink.Errors).Target);
        Assert.Empty(model.History);
    }

    [Fact]
    public void A_missing_model_or_data_is_an_error_naming_the_parameter()
    {
        var sink = new RecordingSink();
        var logic = new TrainingLogic(new TrainingParameters());
        logic.Process(sink, null, Data, CancellationToken.None);
        logic.Process(sink, new VaeModel(Config), null, CancellationToken.None);
        Assert.Equal(new[] { "MissingModel", "MissingData" }, sink.Errors.Select(e => e.ErrorId));
    }

    [Fact]
    public void Bad_options_are_terminating_errors()
    {
        var e = Assert.Throws<CommandException>(() => new TrainingLogic(new TrainingParameters { Optimizer = "Rmsprop" }).BuildOptions());
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Category);
        Assert.Contains("Adam, Sgd, Adagrad", e.Message);
        var r = Assert.Throws<CommandException>(() => new TrainingLogic(new TrainingParameters { Resume = true }).BuildOptions());
        Assert.Equal("ResumeWithoutCheckpoint", r.Error.ErrorId);
    }

    [Fact]
    public void A_checkpoint_is_written_after_each_epoch_and_resume_continues_from_its_state()
    {
        string path = Path.Combine(_dir, "run.safetensors");
        var first = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 30, CheckpointPath = path, Resume = true })
            .Process(first, new VaeModel(Config), Data, CancellationToken.None);
        Assert.Equal(path, Assert.Single(first.ShouldProcessCalls).Target);
        Assert.True(File.Exists(path));
        Assert.Contains(first.Verbose, v => v.Contains("No checkpoint"));

        File.Copy(path, Path.Combine(_dir, "copy.safetensors")); // the state after epoch 2, before the second run overwrites it
        // A later run of the same command line picks up the checkpoint instead of the fresh model.
        var second = new RecordingSink();
        var fresh = new VaeModel(Config);
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 30, CheckpointPath = path, Resume = true })
            .Process(second, fresh, Data, CancellationToken.None);
        Assert.Empty(second.Errors);
        var resumed = second.Single<VaeModel>();
        Assert.Same(fresh, resumed); // in place (issue 13 item 4): $m | Invoke-VaeTraining -Resume trains $m itself
        Assert.Equal(new[] { 1, 2, 3, 4 }, resumed.History.Select(r => r.Epoch));

        // The checkpoint's optimiser and random state were used: same weights as resuming with the core directly,
        // different weights from continuing the saved model with a fresh optimiser.
        string copy = Path.Combine(_dir, "copy.safetensors");
        var (direct, state) = ModelFile.LoadWithCheckpoint(copy);
        using (var trainer = new VaeTrainer(direct, new TrainingOptions { Epochs = 2, BatchSize = 30 }, state)) trainer.Train(Data);
        Assert.True(SameParameters(direct, resumed), "resuming through the cmdlet logic differs from resuming with the core");
        var (again, _) = ModelFile.LoadWithCheckpoint(copy);
        using (var trainer = new VaeTrainer(again, new TrainingOptions { Epochs = 2, BatchSize = 30 })) trainer.Train(Data);
        Assert.False(SameParameters(again, resumed), "the optimiser state made no difference");
    }

    [Fact]
    public void Declining_the_checkpoint_write_trains_nothing()
    {
        string path = Path.Combine(_dir, "declined.safetensors");
        var sink = new RecordingSink { Confirm = false };
        var model = new VaeModel(Config);
        new TrainingLogic(new TrainingParameters { Epochs = 1, CheckpointPath = path }).Process(sink, model, Data, CancellationToken.None);
        Assert.Empty(sink.Output);
        Assert.Empty(model.History);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Resuming_a_checkpoint_of_another_architecture_is_refused()
    {
        string path = Path.Combine(_dir, "other.safetensors");
        new TrainingLogic(new TrainingParameters { Epochs = 1, CheckpointPath = path }).Process(new RecordingSink(), new VaeModel(Config), Data, CancellationToken.None);
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 1, CheckpointPath = path, Resume = true })
            .Process(sink, new VaeModel(Config with { LatentDim = 3 }), Data, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("CheckpointMismatch", ErrorKind.InvalidArgument, (object)path), (e.ErrorId, e.Category, e.Target!));
        Assert.Empty(sink.Output);
    }

    [Fact]
    public void A_checkpoint_in_a_missing_folder_is_an_ObjectNotFound_error()
    {
        string path = Path.Combine(_dir, "no-such-folder", "ck.safetensors");
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 1, CheckpointPath = path }).Process(sink, new VaeModel(Config), Data, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(ErrorKind.ObjectNotFound, e.Category);
        Assert.Equal(path, e.Target);
    }
}
