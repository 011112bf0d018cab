using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchSharp;
using VaeTools.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

/// <summary>
/// The baseline of the Torch engine's overhead: the reference VAE (784-H-P, ReLU, Bernoulli, Adam, loss summed over
/// pixels and averaged over the batch) as a plain TorchSharp training loop, written directly with nn.Linear and
/// functional ops, with the same data in memory and the same initial weights. Not VaeTools code: what a TorchSharp user would write by hand.
/// </summary>
sealed class TorchPlainLoop : IDisposable
{
    private readonly BenchmarkOptions _o;
    private readonly Tensor _trainX, _testX;
    private readonly TorchSharp.Modules.Linear _enc, _mu, _lv, _dec1, _dec2;
    private readonly optim.Optimizer _adam;
    private readonly List<double> _seconds = new();
    private double _finalTest = double.NaN;

    /// <summary>With --profile: the step's phases under the Torch engine's names ("step: rows", "step: forward", ...).</summary>
    public VaeTools.Engine.OpProfile? Profile { get; }

    public TorchPlainLoop(BenchmarkOptions o)
    {
        VaeTools.Torch.TorchRuntime.EnsureLoaded();
        _o = o;
        torch.set_num_threads(o.Threads);
        torch.manual_seed((long)o.Seed);
        var train = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Train, Directory = o.Data, Count = o.Limit });
        var test = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = o.Data });
        _trainX = All(train);
        _testX = All(test);
        int h = o.Hidden[0], p = o.Latent, d = train.Features;
        _enc = nn.Linear(d, h); _mu = nn.Linear(h, p); _lv = nn.Linear(h, p);
        _dec1 = nn.Linear(p, h); _dec2 = nn.Linear(h, d);
        // The Torch engine's initial weights (VaeTools' initialisation, the same seed), so both train the same model from
        // the same start. With PyTorch's default initialisation the trajectories differ, e.g. in how many of the first
        // layer's Adam values are subnormal (slow to compute with) after two epochs: 64,214 against 71,765 of 313,600.
        var init = new VaeTools.Model.VaeModel(new VaeTools.Model.VaeConfig { HiddenDims = o.Hidden, LatentDim = o.Latent, Seed = o.Seed });
        using (no_grad())
        {
            foreach (var (layer, name) in new[] { (_enc, "encoder.hidden.0"), (_mu, "encoder.mean"), (_lv, "encoder.logvar"), (_dec1, "decoder.hidden.0"), (_dec2, "decoder.output") })
            {
                using var w = tensor(init.ReadParameter(name + ".weight").ToArray(), layer.weight!.shape);
                using var b = tensor(init.ReadParameter(name + ".bias").ToArray(), layer.bias!.shape);
                layer.weight!.copy_(w);
                layer.bias!.copy_(b);
            }
        }
        var parameters = new[] { _enc, _mu, _lv, _dec1, _dec2 }.SelectMany(m => m.parameters()).ToArray();
        _adam = optim.Adam(parameters, o.LearningRate);
        if (o.Profile) Profile = new VaeTools.Engine.OpProfile();
    }

    private long Phase(string name, long since) => VaeTools.Engine.OpProfile.Lap(Profile, name, since);

    private Tensor Loss(Tensor x)
    {
        var hid = F.relu(_enc.call(x));
        var m = _mu.call(hid); var v = _lv.call(hid);
        var z = m + (v * 0.5).exp() * randn_like(m);
        var logits = _dec2.call(F.relu(_dec1.call(z)));
        var rec = F.binary_cross_entropy_with_logits(logits, x, reduction: nn.Reduction.Sum);
        var kl = -0.5 * (1 + v - m.square() - v.exp()).sum();
        return (rec + kl) / x.shape[0];
    }

    /// <summary>Trains one epoch (timed) and evaluates the test set (not timed); prints the epoch's JSON line.</summary>
    public void RunEpoch()
    {
        var gc = GcCounts.Now();
        var clock = Stopwatch.StartNew();
        double sum = 0;
        long n = _trainX.shape[0];
        using (var perm = randperm(n))
        for (long start = 0; start < n; start += _o.BatchSize)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(_o.BatchSize, n - start);
            long t = Stopwatch.GetTimestamp();
            var x = _trainX.index_select(0, perm.narrow(0, start, count));
            t = Phase("step: rows", t);
            _adam.zero_grad();
            var loss = Loss(x);
            sum += loss.item<float>() * count;
            t = Phase("step: forward", t);
            loss.backward();
            t = Phase("step: backward", t);
            _adam.step();
            Phase("step: optimizer", t);
        }
        double s = clock.Elapsed.TotalSeconds;
        _seconds.Add(s);
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            double t = 0;
            for (long start = 0; start < _testX.shape[0]; start += _o.BatchSize)
            {
                long count = Math.Min(_o.BatchSize, _testX.shape[0] - start);
                t += Loss(_testX.narrow(0, start, count)).item<float>() * count;
            }
            _finalTest = t / _testX.shape[0];
        }
        var line = new JsonObject { ["impl"] = "torchsharp-plain", ["epoch"] = _seconds.Count, ["train_loss"] = sum / n, ["test_loss"] = _finalTest, ["epoch_seconds"] = s };
        GcCounts.Now().Since(gc).AddTo(line);
        Console.WriteLine(line.ToJsonString());
    }

    /// <summary>The summary line of the epochs run so far.</summary>
    public Summary Finish()
    {
        var summary = new Summary(_seconds.Average(), _seconds.Min(), _finalTest);
        Console.WriteLine(new JsonObject
        {
            ["impl"] = "torchsharp-plain", ["summary"] = true, ["epochs"] = _seconds.Count, ["mean_epoch_seconds"] = summary.MeanEpochSeconds,
            ["min_epoch_seconds"] = summary.MinEpochSeconds, ["final_test_loss"] = _finalTest, ["threads"] = _o.Threads,
            ["peak_working_set_mb"] = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0),
        }.ToJsonString());
        return summary;
    }

    public void Dispose()
    {
        _adam.Dispose();
        foreach (var m in new[] { _enc, _mu, _lv, _dec1, _dec2 }) m.Dispose();
        _trainX.Dispose();
        _testX.Dispose();
    }

    private static Tensor All(IDataset data)
    {
        var values = new float[(long)data.Count * data.Features];
        data.CopyRows(Enumerable.Range(0, data.Count).ToArray(), values, null);
        return tensor(values, new long[] { data.Count, data.Features });
    }
}
