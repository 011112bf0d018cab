using System.Runtime.InteropServices;
using VaeTools.Data;
using VaeTools.IO;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;
using VaeTools.Tests.Data;

namespace VaeTools.Tests.Commands;

/// <summary>
/// Issue 13 (training as a scheduled job) and issue 11 items 2, 7, 9: checkpoints that cannot be lost, a rerun that
/// does not over-train, signals, concurrent trainings, -WhatIf, messages. docs/reliability.md maps items to tests.
/// </summary>
public sealed class TrainingReliabilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-reliability-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly VaeConfig Config = new() { InputDim = 784, HiddenDims = new[] { 16 }, LatentDim = 2, Seed = 11 };
    private static readonly MnistDataset Data = SyntheticMnist.Create(120);

    private static RecordingSink Train(TrainingParameters p, VaeModel model, CancellationToken cancellation = default, TrainingLogic? logic = null)
    {
        var sink = new RecordingSink();
        (logic ?? new TrainingLogic(p)).Process(sink, model, Data, cancellation);
        return sink;
    }

    private static bool SameParameters(VaeModel a, VaeModel b) =>
        a.Parameters.Zip(b.Parameters).All(p => p.First.Value.Span.SequenceEqual(p.Second.Value.Span));

    // ---- item 1: an existing checkpoint is never destroyed by a run that did not resume it ----

    [Fact]
    public void An_existing_checkpoint_is_not_overwritten_without_Resume_or_Force()
    {
        string path = Path.Combine(_dir, "c.safetensors");
        Train(new TrainingParameters { Epochs = 3, BatchSize = 30, CheckpointPath = path }, new VaeModel(Config));
        byte[] before = File.ReadAllBytes(path);

        var model = new VaeModel(Config);
        var sink = Train(new TrainingParameters { Epochs = 1, BatchSize = 30, CheckpointPath = path }, model);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("CheckpointExists", ErrorKind.ResourceExists, (object)path), (e.ErrorId, e.Category, e.Target!));
        Assert.Contains($"'{path}'", e.Message);
        Assert.Contains("-Resume", e.Message);
        Assert.Contains("-Force", e.Message);
        Assert.Empty(sink.Output);
        Assert.Empty(model.History);
        Assert.Equal(before, File.ReadAllBytes(path));

        // -Force starts over and replaces it.
        var forced = Train(new TrainingParameters { Epochs = 1, BatchSize = 30, CheckpointPath = path, Force = true }, new VaeModel(Config));
        Assert.Empty(forced.Errors);
        Assert.Single(ModelFile.Load(path).History);
    }

    // ---- item 2: one training per checkpoint ----

    [Fact]
    public void A_checkpoint_held_by_another_training_is_refused_at_once_naming_the_path_and_the_holder()
    {
        string path = Path.Combine(_dir, "busy.safetensors");
        using (FileLock.Acquire(path)) // what a running training holds
        {
            var model = new VaeModel(Config);
            var sink = Train(new TrainingParameters { Epochs = 1, BatchSize = 30, CheckpointPath = path }, model);
            var e = Assert.Single(sink.Errors);
            Assert.Equal(("CheckpointInUse", ErrorKind.ResourceBusy, (object)path), (e.ErrorId, e.Category, e.Target!));
            Assert.Contains($"'{path}'", e.Message);
            if (!OperatingSystem.IsWindows()) Assert.Contains($"id {Environment.ProcessId}", e.Message);
            Assert.Empty(model.History);
            Assert.False(File.Exists(path));
        }
        // Released: the next run trains, and leaves no lock file behind.
        var next = Train(new TrainingParameters { Epochs = 1, BatchSize = 30, CheckpointPath = path }, new VaeModel(Config));
        Assert.Empty(next.Errors);
        Assert.False(File.Exists(FileLock.LockPathOf(path)), "the lock file was left behind");
    }

    [Fact]
    public void A_lock_file_left_by_a_killed_run_does_not_block_the_next()
    {
        string path = Path.Combine(_dir, "killed.safetensors");
        File.WriteAllText(FileLock.LockPathOf(path), "999999\nstale\n"); // what kill -9 leaves: the file, no lock
        var sink = Train(new TrainingParameters { Epochs = 1, BatchSize = 30, CheckpointPath = path }, new VaeModel(Config));
        Assert.Empty(sink.Errors);
        Assert.Single(ModelFile.Load(path).History);
        Assert.False(File.Exists(FileLock.LockPathOf(path)));
    }

    [Fact]
    public void A_file_lock_excludes_a_second_holder_until_released()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        var first = FileLock.Acquire(path);
        var e = Assert.Throws<FileLockedException>(() => FileLock.Acquire(path));
        Assert.Equal(Path.GetFullPath(path), e.Path);
        if (!OperatingSystem.IsWindows()) Assert.Equal(Environment.ProcessId, e.HolderProcessId);
        // Also from another thread (runspace).
        Assert.IsType<FileLockedException>(Task.Run(() => Record.Exception(() => FileLock.Acquire(path))).Result);
        first.Dispose();
        using var second = FileLock.Acquire(path);
        Assert.True(File.Exists(second.LockPath));
    }

    // ---- item 3: a rerun of a finished job does not over-train ----

    [Fact]
    public void UntilEpoch_trains_only_the_missing_epochs_and_a_rerun_of_a_finished_job_does_nothing_and_says_so()
    {
        string path = Path.Combine(_dir, "job.safetensors");
        TrainingParameters Job() => new() { UntilEpoch = 3, BatchSize = 30, CheckpointPath = path, Resume = true };

        // The job "crashes" after 2 epochs (here: a run that stops at 2).
        Train(new TrainingParameters { Epochs = 2, BatchSize = 30, CheckpointPath = path }, new VaeModel(Config));
        var rerun = Train(Job(), new VaeModel(Config));
        Assert.Empty(rerun.Errors);
        Assert.Equal(new[] { 1, 2, 3 }, rerun.Single<VaeModel>().History.Select(r => r.Epoch));
        byte[] finished = File.ReadAllBytes(path);

        // The same line again: nothing trained, nothing written, the model emitted, and a warning says why.
        var again = Train(Job(), new VaeModel(Config));
        Assert.Empty(again.Errors);
        Assert.Equal(3, again.Single<VaeModel>().History.Count);
        Assert.Contains("Nothing to train", Assert.Single(again.Warnings));
        Assert.Contains("-UntilEpoch 3", again.Warnings[0]);
        Assert.Equal(finished, File.ReadAllBytes(path));

        // And the 3-epoch result equals an uninterrupted 3-epoch run.
        var straight = new VaeModel(Config);
        Train(new TrainingParameters { Epochs = 3, BatchSize = 30, CheckpointPath = Path.Combine(_dir, "straight.safetensors") }, straight);
        Assert.True(SameParameters(straight, ModelFile.Load(path)), "interrupted-and-resumed differs from a straight run");
    }

    [Fact]
    public void Epochs_counts_more_epochs_when_resuming()
    {
        string path = Path.Combine(_dir, "more.safetensors");
        Train(new TrainingParameters { Epochs = 2, BatchSize = 30, CheckpointPath = path }, new VaeModel(Config));
        var sink = Train(new TrainingParameters { Epochs = 2, BatchSize = 30, CheckpointPath = path, Resume = true }, new VaeModel(Config));
        Assert.Equal(4, sink.Single<VaeModel>().History.Count);
    }

    // ---- item 4: -Resume trains the piped model in place ----

    [Fact]
    public void Resume_loads_the_checkpoint_into_the_piped_model_and_trains_that_object()
    {
        string path = Path.Combine(_dir, "inplace.safetensors");
        Train(new TrainingParameters { Epochs = 1, BatchSize = 30, CheckpointPath = path }, new VaeModel(Config));
        var m = new VaeModel(Config);
        var sink = Train(new TrainingParameters { Epochs = 1, BatchSize = 30, CheckpointPath = path, Resume = true }, m);
        Assert.Same(m, sink.Single<VaeModel>());
        Assert.Equal(2, m.History.Count);
        Assert.True(SameParameters(m, ModelFile.Load(path)), "$m is not the model the checkpoint holds");
    }

    // ---- item 5: signals (the real ones are sent to a child pwsh in tests/pester/Training.Tests.ps1) ----

    [Fact]
    public void A_first_signal_finishes_the_batch_keeps_the_last_epoch_in_the_checkpoint_warns_and_stops_with_a_terminating_error()
    {
        string path = Path.Combine(_dir, "signal.safetensors");
        var model = new VaeModel(Config);
        var logic = new TrainingLogic(new TrainingParameters { Epochs = 5, BatchSize = 30, CheckpointPath = path });
        SignalStop? signals = null;
        logic.OnSignalsRegistered = s => signals = s;
        var sink = new RecordingSink();
        sink.OnProgress = r => { if (r.ActivityId == logic.BatchActivity && r.Activity.StartsWith("Epoch 2 ")) signals!.Simulate(PosixSignal.SIGTERM); };
        var e = Assert.Throws<CommandException>(() => logic.Process(sink, model, Data, CancellationToken.None));
        Assert.Equal(("TrainingStoppedBySignal", ErrorKind.OperationStopped), (e.Error.ErrorId, e.Error.Category));
        Assert.Contains("SIGTERM", e.Message);
        Assert.Contains("-Resume", e.Message);
        Assert.Contains("after epoch 1", Assert.Single(sink.Warnings));
        Assert.Contains(path, sink.Warnings[0]);
        Assert.Single(model.History);
        Assert.Single(ModelFile.Load(path).History);
        Assert.True(logic.Stopped);
        Assert.False(File.Exists(FileLock.LockPathOf(path)), "the lock outlived the stopped training");
    }

    // ---- issue 11 item 7: one training of a model at a time ----

    [Fact]
    public void A_second_concurrent_training_of_the_same_model_fails_with_a_clear_error()
    {
        var model = new VaeModel(Config);
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var other = Task.Run(() =>
        {
            using (model.BeginTraining()) { holding.Set(); release.Wait(); } // another thread is training it
        });
        holding.Wait();
        try
        {
            var sink = Train(new TrainingParameters { Epochs = 1, BatchSize = 30 }, model);
            var e = Assert.Single(sink.Errors);
            Assert.Equal(("ModelInUse", ErrorKind.ResourceBusy), (e.ErrorId, e.Category));
            Assert.Same(model, e.Target);
            Assert.Contains("another thread", e.Message);
            Assert.Empty(model.History);
            // The core refuses too.
            Assert.Throws<ModelInUseException>(() => new VaeTrainer(model, new TrainingOptions { Epochs = 1 }));
        }
        finally { release.Set(); other.Wait(); }
        // Once the other training is over, the model trains.
        Assert.Empty(Train(new TrainingParameters { Epochs = 1, BatchSize = 30 }, model).Errors);
        Assert.Single(model.History);
    }

    [Fact]
    public void Two_threads_training_one_model_at_once_give_one_clean_history()
    {
        var model = new VaeModel(Config);
        using var start = new Barrier(2);
        var sinks = new RecordingSink[2];
        var runs = Enumerable.Range(0, 2).Select(i => Task.Run(() =>
        {
            start.SignalAndWait();
            sinks[i] = Train(new TrainingParameters { Epochs = 3, BatchSize = 10, ThrottleLimit = 1 }, model);
        })).ToArray();
        Task.WaitAll(runs);
        // Either both ran one after the other (6 epochs) or one was refused; never interleaved (1 1 2 2).
        var epochs = model.History.Select(r => r.Epoch).ToArray();
        Assert.Equal(Enumerable.Range(1, epochs.Length), epochs);
        int refused = sinks.Count(s => s.Errors.Any(e => e.ErrorId == "ModelInUse"));
        Assert.Equal(refused == 1 ? 3 : 6, epochs.Length);
    }

    // ---- issue 11 item 2: -WhatIf trains nothing and says what it would do ----

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WhatIf_trains_nothing_writes_nothing_and_names_what_would_be_done(bool withCheckpoint)
    {
        string path = Path.Combine(_dir, "whatif.safetensors");
        var model = new VaeModel(Config);
        var before = model.Parameters.Select(p => p.Value.Span.ToArray()).ToArray();
        var sink = new RecordingSink { Confirm = false };
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 30, CheckpointPath = withCheckpoint ? path : null })
            .Process(sink, model, Data, CancellationToken.None);
        var (target, action) = Assert.Single(sink.ShouldProcessCalls);
        Assert.Equal(withCheckpoint ? path : model.ToString(), target);
        Assert.Contains("2 epochs", action);
        Assert.Empty(sink.Output);
        Assert.Empty(model.History);
        Assert.True(model.Parameters.Select((p, i) => p.Value.Span.SequenceEqual(before[i])).All(x => x), "-WhatIf changed the weights");
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(FileLock.LockPathOf(path)));
    }

    // ---- issue 11 item 9: distinct progress ids ----

    [Fact]
    public void Every_training_command_has_its_own_progress_ids()
    {
        var a = new TrainingLogic(new TrainingParameters());
        var b = new TrainingLogic(new TrainingParameters());
        var ids = new[] { a.EpochActivity, a.BatchActivity, b.EpochActivity, b.BatchActivity };
        Assert.Equal(4, ids.Distinct().Count());
        Assert.All(ids, id => Assert.True(id > 0));
    }

    // ---- item 7: messages in PowerShell terms ----

    [Fact]
    public void A_loss_that_grows_far_beyond_the_first_epochs_is_warned_about_once()
    {
        Assert.True(TrainingLogic.LossGrewFar(200, 6.3e9));
        Assert.False(TrainingLogic.LossGrewFar(200, 1500));
        Assert.False(TrainingLogic.LossGrewFar(200, 150));
        Assert.False(TrainingLogic.LossGrewFar(-50, -120)); // Gaussian likelihoods' losses may be negative and fall
        Assert.True(TrainingLogic.LossGrewFar(-50, 600));

        // Adam at 0.3 on these 120 images: 9.1e5 nats in epoch 1, 1.3e11 in epoch 2 (measured), then it recovers.
        // (Larger rates turn the loss into NaN, which is the TrainingDiverged error instead.)
        var sink = Train(new TrainingParameters { Epochs = 4, BatchSize = 30, LearningRate = 0.3 }, new VaeModel(Config));
        var history = sink.Single<VaeModel>().History;
        Assert.True(TrainingLogic.LossGrewFar(history[0].TrainLoss, history[1].TrainLoss), $"epoch 2's loss {history[1].TrainLoss} did not grow far");
        var w = Assert.Single(sink.Warnings);
        Assert.Contains("epoch 2", w);
        Assert.Contains("-LearningRate", w);

        // A training that improves is not warned about.
        Assert.Empty(Train(new TrainingParameters { Epochs = 3, BatchSize = 30 }, new VaeModel(Config)).Warnings);
    }

    [Fact]
    public void NoDownload_is_named_as_the_parameter_not_as_the_CSharp_option()
    {
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { Path = _dir, NoDownload = true }).Process(sink, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.DoesNotContain("MnistLoadOptions", e.Message);
        Assert.DoesNotContain("AllowDownload", e.Message);
        Assert.Contains("-NoDownload", e.Message);
        Assert.IsType<FileNotFoundException>(e.Exception);
    }

    [Fact]
    public void A_Count_beyond_the_data_names_Count_and_no_CSharp_parameter()
    {
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { Count = 999999 }, (o, _) => SyntheticMnist.Create(100, 1, o)).Process(sink, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.DoesNotContain("(Parameter", e.Message);
        Assert.DoesNotContain("options", e.Message);
        Assert.StartsWith("-Count 999999", e.Message);
        Assert.Equal(ErrorKind.InvalidArgument, e.Category);
    }

    [Fact]
    public void Argument_errors_lose_the_CSharp_parameter_suffix()
    {
        var e = Errors.From(new ArgumentOutOfRangeException("options", "Count 5 exceeds 3."), "X", null);
        Assert.Equal("Count 5 exceeds 3.", e.Message);
        Assert.IsType<ArgumentOutOfRangeException>(e.Exception);
        Assert.Equal(ErrorKind.InvalidArgument, e.Category);
    }

    [Fact]
    public void A_gz_file_that_is_not_gzip_is_not_called_decompressed_and_a_real_one_is()
    {
        foreach (var name in new[] { MnistFiles.TestImages, MnistFiles.TestLabels })
            File.WriteAllBytes(Path.Combine(_dir, name + ".gz"), new byte[] { 0, 0, 8, 3, 1, 2, 3, 4 });
        var plain = Assert.Throws<DataChecksumException>(() => MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = _dir }));
        Assert.DoesNotContain("decompressed", plain.Message);
        Assert.Contains("not gzip-compressed", plain.Message);

        MnistDataset.ClearCache();
        foreach (var name in new[] { MnistFiles.TestImages, MnistFiles.TestLabels })
            File.WriteAllBytes(Path.Combine(_dir, name + ".gz"), SyntheticIdx.Gzip(new byte[] { 0, 0, 8, 3, 1, 2, 3, 4 }));
        var gz = Assert.Throws<DataChecksumException>(() => MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = _dir }));
        Assert.Contains("decompressed contents", gz.Message);
    }

    [Fact]
    public void A_folder_given_as_a_model_file_is_called_a_folder_not_missing()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_dir, "m.safetensors")).FullName;
        var sink = new RecordingSink();
        ModelFileLogic.Import(sink, folder);
        var e = Assert.Single(sink.Errors);
        Assert.Contains("is a folder", e.Message);
        Assert.DoesNotContain("does not exist", e.Message);
        Assert.Equal(folder, e.Target);
    }
}
