// Side-by-side benchmark: trains the reference VAE with VaeTools and (with --compare-pytorch) the identical
// configuration in PyTorch, in one run, and prints one JSON object per line:
//   {"impl":"vaetools","epoch":1,"train_loss":..,"test_loss":..,"epoch_seconds":..,"test_seconds":..}  per epoch
//   {"impl":"vaetools","summary":true,...}                                                              summary
//   (PyTorch's lines, the same shape, from pytorch_reference.py)
//   {"comparison":true,"speedup":..,...}                                                                ratio
// Usage: dotnet run -c Release --project tests/VaeTools.Benchmarks -- --epochs 10 --batch-size 128
//        --hidden 400 --latent 20 --lr 1e-3 --seed 1 --data <mnist dir> [--threads N] [--limit N] [--compare-pytorch] [--profile]
//        [--pytorch-blas-threads N] [--pytorch-omp-wait-policy active|passive] [--python PATH] [--interleave]
//        [--engine managed|torch|both]   (torch: the Torch engine and a plain TorchSharp loop of the same model, epoch by epoch in turn, and the overhead)
//        [--memory]   (resident memory from /proc/self/status, native memory included: VmRSS after every epoch, VmHWM peak;
//                      on the Torch engine also the live TorchSharp tensors of the training thread)
// With --interleave the two alternate epoch by epoch (PyTorch is frozen with SIGSTOP while VaeTools trains and
// the other way round), so a machine whose speed drifts during the run slows both alike.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

var options = BenchmarkOptions.Parse(args);
if (options is null) return 2;

PytorchRun? gated = null;
if (options.ComparePytorch && options.Interleave)
{
    gated = PytorchRun.Start(options, gated: true);
    if (gated is null) return 1;
}
Summary? ours = null, torchEngine = null, plainTorch = null;
if (options.Engine is "managed" or "both") ours = RunVaeTools(options, gated, torchEngine: false);
if (options.Engine is "torch" or "both")
{
    // The plain TorchSharp loop is the reference MLP only; for conv the Torch engine's module is torch.nn itself.
    // It trains an epoch after each of the engine's (see TorchPlainLoop).
    // Both use libtorch in this one process, and whichever runs first pays for its start-up (threads, allocator, first
    // kernels: 1.0-1.2 s more in a first epoch here). So each first trains an untimed epoch on a few images.
    WarmUpTorch(options);
    using var plain = options.Arch == "conv" ? null : new TorchPlainLoop(options);
    torchEngine = RunVaeTools(options, options.Engine == "torch" ? gated : null, torchEngine: true, afterEpoch: plain is null ? null : plain.RunEpoch);
    plainTorch = plain?.Finish();
    if (plain?.Profile is { } plainProfile) PrintProfile("torchsharp-plain", plainProfile, "");
    Emit(new JsonObject
    {
        ["comparison"] = "torch-engine-overhead",
        ["torch_engine_mean_epoch_seconds"] = torchEngine.MeanEpochSeconds,
        ["torchsharp_plain_mean_epoch_seconds"] = plainTorch?.MeanEpochSeconds,
        ["overhead"] = plainTorch is null ? null : torchEngine.MeanEpochSeconds / plainTorch.MeanEpochSeconds - 1,
        ["torch_engine_final_test_loss"] = torchEngine.FinalTestLoss,
        ["torchsharp_plain_final_test_loss"] = plainTorch?.FinalTestLoss,
        ["arch"] = options.Arch,
        ["managed_mean_epoch_seconds"] = ours?.MeanEpochSeconds,
        ["managed_speedup_over_torch_engine"] = ours is null ? null : torchEngine.MeanEpochSeconds / ours.MeanEpochSeconds,
    });
}
ours ??= torchEngine!;
if (!options.ComparePytorch) return 0;

var theirs = (gated ?? PytorchRun.Start(options, gated: false))?.Finish();
if (theirs is null) return 1;
Emit(new JsonObject
{
    ["comparison"] = true,
    ["vaetools_mean_epoch_seconds"] = ours.MeanEpochSeconds,
    ["pytorch_mean_epoch_seconds"] = theirs.MeanEpochSeconds,
    ["speedup"] = theirs.MeanEpochSeconds / ours.MeanEpochSeconds,
    // The fastest epoch of each: the least disturbed by a shared, noisy machine.
    ["vaetools_min_epoch_seconds"] = ours.MinEpochSeconds,
    ["pytorch_min_epoch_seconds"] = theirs.MinEpochSeconds,
    ["speedup_min"] = theirs.MinEpochSeconds / ours.MinEpochSeconds,
    ["vaetools_final_test_loss"] = ours.FinalTestLoss,
    ["pytorch_final_test_loss"] = theirs.FinalTestLoss,
    ["threads"] = options.Threads,
    ["pytorch_blas_threads"] = options.PytorchBlasThreads,
    ["pytorch_omp_wait_policy"] = options.PytorchOmpWaitPolicy,
    ["interleaved"] = options.Interleave,
    ["engine"] = options.Engine,
    ["arch"] = options.Arch,
    ["torch_engine_mean_epoch_seconds"] = torchEngine?.MeanEpochSeconds,
    ["torch_engine_speedup"] = torchEngine is null ? null : theirs.MeanEpochSeconds / torchEngine.MeanEpochSeconds,
});
return 0;

// Trains with VaeTools; with a gated PyTorch run, lets it train one epoch after each of ours (outside our epoch timer).
// An untimed epoch on the first 2,000 images of the Torch engine (a throwaway model) and of the plain TorchSharp loop.
static void WarmUpTorch(BenchmarkOptions o)
{
    var small = o with { Epochs = 1, Limit = Math.Min(o.Limit ?? 2000, 2000), Memory = false, Profile = false };
    var stdout = Console.Out;
    Console.SetOut(TextWriter.Null); // their lines are not the run's
    try
    {
        RunVaeTools(small, null, torchEngine: true);
        if (o.Arch != "conv")
        {
            using var plain = new TorchPlainLoop(small);
            plain.RunEpoch();
        }
    }
    finally { Console.SetOut(stdout); }
    Console.Error.WriteLine("warm-up: one untimed epoch of each on 2000 images");
}

// afterEpoch runs after each epoch, outside its timer (the plain TorchSharp loop's interleaved epoch).
static Summary RunVaeTools(BenchmarkOptions o, PytorchRun? interleaved, bool torchEngine, Action? afterEpoch = null)
{
    string impl = torchEngine ? "vaetools-torch" : "vaetools";
    var train = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Train, Directory = o.Data, Count = o.Limit });
    var test = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = o.Data });
    var model = new VaeModel(o.Arch == "conv"
        ? new VaeConfig
        {
            Architecture = Architecture.Conv, HiddenDims = Array.Empty<int>(), ConvChannels = o.ConvChannels, KernelSize = o.Kernel,
            ImageShape = train.ImageShape, LatentDim = o.Latent, Seed = o.Seed,
        }
        : new VaeConfig { HiddenDims = o.Hidden, LatentDim = o.Latent, Seed = o.Seed });
    var training = new TrainingOptions
    {
        Epochs = o.Epochs, BatchSize = o.BatchSize, LearningRate = o.LearningRate, Seed = o.Seed, Threads = o.Threads,
    };
    if (torchEngine) VaeTools.Torch.TorchBackend.Attach(model);
    using var trainer = new VaeTrainer(model, training); // the model's engine's step: managed, or the Torch module
    var profile = o.Profile ? new OpProfile() : null;
    if (profile is not null) trainer.Profile = profile;
    Func<IDataset, IDataset, Action<TrainingProgress>, TrainingResult> train1 = (a, b, c) => trainer.Train(a, b, c);
    var seconds = new List<double>();
    var rssPerEpoch = new JsonArray();
    var liveTensorsPerEpoch = new JsonArray();
    double finalTest = double.NaN;
    var gc = GcCounts.Now(); // since the last epoch's end (so the epoch, its test evaluation, and its first batch's report)
    Console.Error.WriteLine($"{impl}: {model.Config}, {train.Count} training images, {o.Threads} thread(s)");
    train1(train, test, p =>
    {
        if (p.CompletedEpoch is not { } r) return;
        seconds.Add(r.Seconds);
        finalTest = r.TestLoss ?? double.NaN;
        var line = new JsonObject
        {
            ["impl"] = impl, ["epoch"] = r.Epoch, ["train_loss"] = r.TrainLoss, ["test_loss"] = r.TestLoss,
            ["epoch_seconds"] = r.Seconds, ["test_seconds"] = r.TestSeconds,
        };
        GcCounts.Now().Since(gc).AddTo(line);
        if (o.Memory)
        {
            double rss = ProcStatusMb("VmRSS");
            rssPerEpoch.Add(Math.Round(rss, 1));
            line["rss_mb"] = rss;
            line["managed_heap_mb"] = GC.GetGCMemoryInfo().HeapSizeBytes / (1024.0 * 1024.0); // to tell managed growth from native
            if (torchEngine)
            {
                long live = LiveTorchTensors();
                liveTensorsPerEpoch.Add(live);
                line["live_tensors"] = live;
            }
        }
        Emit(line);
        afterEpoch?.Invoke();
        gc = GcCounts.Now();
        if (interleaved is not null && !interleaved.RunEpoch())
            throw new InvalidOperationException("The PyTorch reference stopped before its epoch " + r.Epoch + ".");
    });
    var summary = new Summary(seconds.Average(), seconds.Min(), finalTest);
    if (profile is not null)
    {
        // Managed, per step: one replica's ops (its share of the batch), the whole parallel phase, the optimiser.
        // Torch: the step's phases (rows, forward, backward, optimizer, readback).
        PrintProfile(impl, profile, torchEngine ? "" : "; ops are replica 0's");
    }
    var summaryLine = new JsonObject
    {
        ["impl"] = impl, ["summary"] = true, ["epochs"] = seconds.Count, ["mean_epoch_seconds"] = summary.MeanEpochSeconds,
        ["min_epoch_seconds"] = summary.MinEpochSeconds,
        ["final_test_loss"] = finalTest, ["threads"] = o.Threads, ["train_images"] = train.Count,
        ["peak_working_set_mb"] = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0),
        ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        ["vector512"] = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
    };
    if (o.Memory)
    {
        summaryLine["peak_rss_mb"] = ProcStatusMb("VmHWM"); // the kernel's high-water mark of the resident set, native memory included
        summaryLine["rss_mb_per_epoch"] = rssPerEpoch;
        if (torchEngine) summaryLine["live_tensors_per_epoch"] = liveTensorsPerEpoch;
    }
    Emit(summaryLine);
    return summary;
}

static void PrintProfile(string impl, OpProfile profile, string note)
{
    long steps = profile.Entries.First(e => e.Op == "step: optimizer").Calls;
    Console.Error.WriteLine($"{impl} profile over {steps} steps (microseconds per step{note}):");
    foreach (var (op, backward, s, calls) in profile.Entries)
        Console.Error.WriteLine($"  {1e6 * s / steps,8:F1}  {op}{(backward ? " (backward)" : "")}");
}

/// <summary>A "Vm..." line of /proc/self/status (kB) in MB; NaN where there is no /proc (not Linux).</summary>
static double ProcStatusMb(string field)
{
    try
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(field.Length + 1).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    }
    catch (IOException) { }
    return double.NaN;
}

/// <summary>TorchSharp tensors alive on this thread (created and not disposed), as DisposeScopeManager counts them.</summary>
[System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
static long LiveTorchTensors() => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

static void Emit(JsonObject o)
{
    Console.WriteLine(o.ToJsonString());
    Console.Out.Flush();
}

/// <summary>Garbage collections and the time the runtime was paused for them, to tell a managed cost from a native one.</summary>
readonly record struct GcCounts(int Gen0, int Gen1, int Gen2, TimeSpan Pause)
{
    public static GcCounts Now() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
    public GcCounts Since(GcCounts earlier) => new(Gen0 - earlier.Gen0, Gen1 - earlier.Gen1, Gen2 - earlier.Gen2, Pause - earlier.Pause);
    public void AddTo(JsonObject line)
    {
        line["gc"] = $"{Gen0}/{Gen1}/{Gen2}";
        line["gc_pause_ms"] = Math.Round(Pause.TotalMilliseconds, 1);
    }
}

record Summary(double MeanEpochSeconds, double MinEpochSeconds, double FinalTestLoss);

sealed record BenchmarkOptions
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    public int[] Hidden { get; init; } = { 400 };
    /// <summary>mlp (the reference 784-400-20) or conv (Conv2d layers of ConvChannels, kernel Kernel, stride 2; New-Vae -Architecture Conv).</summary>
    public string Arch { get; init; } = "mlp";
    public int[] ConvChannels { get; init; } = { 32, 64 };
    public int Kernel { get; init; } = 4;
    public int Latent { get; init; } = 20;
    public float LearningRate { get; init; } = 1e-3f;
    public ulong Seed { get; init; } = 1;
    public string Data { get; init; } = "";
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int? Limit { get; init; }
    /// <summary>
    /// Managed: time every op of one replica and the optimiser. Torch: the phases of the engine's step and of the plain
    /// TorchSharp loop's. Printed to stderr after the run (slows the run a little).
    /// </summary>
    public bool Profile { get; init; }
    /// <summary>Report resident memory (VmRSS per epoch, VmHWM peak, from /proc/self/status) and, on Torch, live tensors.</summary>
    public bool Memory { get; init; }
    public bool ComparePytorch { get; init; }
    /// <summary>managed (default), torch (the Torch engine and a plain TorchSharp loop of the same model, their epochs in turn) or both.</summary>
    public string Engine { get; init; } = "managed";
    /// <summary>Alternate VaeTools' and PyTorch's epochs instead of running one after the other (see the header).</summary>
    public bool Interleave { get; init; }
    public string Python { get; init; } = "/usr/bin/python3";
    /// <summary>
    /// OpenBLAS threads for the PyTorch run (torch's own intra-op threads are --threads). 1 by default: on this
    /// 2-core machine torch's and OpenBLAS's pools both spinning at 2 threads ran 18.6 s an epoch against
    /// 3.8 s with (2, 1) and 4.1 s with (1, 2); see the README's benchmark section.
    /// </summary>
    public int PytorchBlasThreads { get; init; } = 1;
    /// <summary>
    /// OMP_WAIT_POLICY for torch's threads: "active" (spin; PyTorch's fastest on a quiet machine, 3.05 s an epoch here
    /// against 3.6 s passive) or "passive" (better when the machine is busy with other work).
    /// </summary>
    public string PytorchOmpWaitPolicy { get; init; } = "active";

    public static BenchmarkOptions? Parse(string[] args)
    {
        var o = new BenchmarkOptions();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                var inv = CultureInfo.InvariantCulture;
                o = args[i] switch
                {
                    "--epochs" => o with { Epochs = int.Parse(Next(), inv) },
                    "--batch-size" => o with { BatchSize = int.Parse(Next(), inv) },
                    "--hidden" => o with { Hidden = Next().Split(',').Select(s => int.Parse(s, inv)).ToArray() },
                    "--latent" => o with { Latent = int.Parse(Next(), inv) },
                    "--arch" => o with { Arch = Next().ToLowerInvariant() switch { "mlp" => "mlp", "conv" => "conv", var a => throw new ArgumentException($"--arch takes mlp or conv; got {a}.") } },
                    "--conv-channels" => o with { ConvChannels = Next().Split(',').Select(s => int.Parse(s, inv)).ToArray() },
                    "--kernel" => o with { Kernel = int.Parse(Next(), inv) },
                    "--lr" => o with { LearningRate = float.Parse(Next(), inv) },
                    "--seed" => o with { Seed = ulong.Parse(Next(), inv) },
                    "--data" => o with { Data = Next() },
                    "--threads" => o with { Threads = int.Parse(Next(), inv) },
                    "--limit" => o with { Limit = int.Parse(Next(), inv) },
                    "--python" => o with { Python = Next() },
                    "--pytorch-blas-threads" => o with { PytorchBlasThreads = int.Parse(Next(), inv) },
                    "--pytorch-omp-wait-policy" => o with { PytorchOmpWaitPolicy = Next() },
                    "--compare-pytorch" => o with { ComparePytorch = true },
                    "--interleave" => o with { Interleave = true, ComparePytorch = true },
                    "--profile" => o with { Profile = true },
                    "--memory" => o with { Memory = true },
                    "--engine" => Next() is var e && e is "managed" or "torch" or "both" ? o with { Engine = e } : throw new ArgumentException("--engine takes managed, torch or both."),
                    _ => throw new ArgumentException($"Unknown option {args[i]}."),
                };
            }
            if (o.Data.Length == 0) o = o with { Data = MnistLocator.ResolveDirectory(MnistVariant.Digits) };
            return o;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine("usage: --epochs N --batch-size N --hidden W[,W..] [--arch mlp|conv --conv-channels C[,C..] --kernel K] --latent P --lr X --seed N --data DIR [--threads N] [--limit N] [--compare-pytorch] [--profile] [--python PATH] [--pytorch-blas-threads N] [--pytorch-omp-wait-policy active|passive] [--interleave] [--engine managed|torch|both] [--memory]");
            return null;
        }
    }
}

/// <summary>
/// pytorch_reference.py as a child process, its JSON lines echoed to our stdout. Gated (--epoch-gate), it waits before
/// each epoch and is kept frozen (SIGSTOP) except while <see cref="RunEpoch"/> lets it train one.
/// </summary>
sealed class PytorchRun
{
    private readonly Process _process;
    private readonly bool _gated;
    private Summary? _summary;

    private PytorchRun(Process process, bool gated)
    {
        _process = process;
        _gated = gated;
    }

    public static PytorchRun? Start(BenchmarkOptions o, bool gated)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "pytorch_reference.py");
        if (!File.Exists(script))
        {
            Console.Error.WriteLine($"pytorch_reference.py was not found next to the benchmark ({script}).");
            return null;
        }
        if (gated && !OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("--interleave freezes PyTorch between its epochs with SIGSTOP, which needs Linux.");
            return null;
        }
        var psi = new ProcessStartInfo(o.Python) { RedirectStandardOutput = true, RedirectStandardInput = gated, UseShellExecute = false };
        foreach (var a in new[] { script, "--data", o.Data, "--epochs", o.Epochs.ToString(), "--batch-size", o.BatchSize.ToString(),
                     "--hidden", string.Join(",", o.Hidden), "--latent", o.Latent.ToString(), "--lr", o.LearningRate.ToString("R", CultureInfo.InvariantCulture),
                     "--arch", o.Arch, "--conv-channels", string.Join(",", o.ConvChannels), "--kernel", o.Kernel.ToString(),
                     "--seed", o.Seed.ToString(), "--threads", o.Threads.ToString(), "--blas-threads", o.PytorchBlasThreads.ToString(),
                     "--omp-wait-policy", o.PytorchOmpWaitPolicy })
            psi.ArgumentList.Add(a);
        if (o.Limit is int limit) { psi.ArgumentList.Add("--limit"); psi.ArgumentList.Add(limit.ToString()); }
        if (gated) psi.ArgumentList.Add("--epoch-gate");
        Process process;
        try { process = Process.Start(psi)!; }
        catch (Exception e)
        {
            Console.Error.WriteLine($"Could not start {o.Python}: {e.Message}. Install PyTorch with: apt-get install python3-torch libopenblas0-pthread");
            return null;
        }
        var run = new PytorchRun(process, gated);
        // Gated: it loads torch and the data now, then waits for its first epoch; from then on it is frozen while we train.
        if (gated && !run.ReadUntilReady()) return run.Fail();
        return run;
    }

    /// <summary>Gated: PyTorch trains its next epoch while we wait; false if it ended instead.</summary>
    public bool RunEpoch()
    {
        Signals.Continue(_process);
        _process.StandardInput.WriteLine("go");
        _process.StandardInput.Flush();
        return ReadUntilReady() || _summary is not null;
    }

    /// <summary>Echoes PyTorch's lines until it waits for its next epoch (then freezes it: true) or ends (false).</summary>
    private bool ReadUntilReady()
    {
        string? line;
        while ((line = _process.StandardOutput.ReadLine()) is not null)
        {
            var node = JsonNode.Parse(line);
            if (node?["ready_for_epoch"] is not null)
            {
                Signals.Stop(_process);
                return true;
            }
            Console.WriteLine(line);
            Console.Out.Flush();
            if (node?["summary"]?.GetValue<bool>() == true)
                _summary = new Summary(node["mean_epoch_seconds"]!.GetValue<double>(),
                    node["min_epoch_seconds"]?.GetValue<double>() ?? node["mean_epoch_seconds"]!.GetValue<double>(),
                    node["final_test_loss"]!.GetValue<double>());
        }
        return false;
    }

    /// <summary>Runs PyTorch to the end (all of it, or what the gate has left) and returns its summary.</summary>
    public Summary? Finish()
    {
        if (_gated)
        {
            Signals.Continue(_process);
            try { _process.StandardInput.Close(); } // a gate still waiting ends the script
            catch (IOException) { } // it has already exited
        }
        ReadUntilReady();
        _process.WaitForExit();
        if (_process.ExitCode != 0 || _summary is null)
        {
            Console.Error.WriteLine($"The PyTorch reference exited with code {_process.ExitCode} without a summary (is python3-torch installed?).");
            return null;
        }
        return _summary;
    }

    private PytorchRun? Fail()
    {
        Finish();
        return null;
    }
}

/// <summary>Freezing and thawing a child process (Linux signal numbers on x86-64 and arm64).</summary>
static class Signals
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    public static void Stop(Process p) => kill(p.Id, 19);     // SIGSTOP
    public static void Continue(Process p) => kill(p.Id, 18); // SIGCONT
}
