using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchSharp;
using VaeTools.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

/// <summary>
/// The baseline of the Torch engine's overhead: the reference VAE (784-H-P, ReLU, Bernoulli, Adam, loss summed over
/// pixels and averaged over the batch) as a plain TorchSharp training loop, written directly with nn.Linear and
/// functional ops, with the same data in memory. Not VaeTools code: what a TorchSharp user would write by hand.
/// </summary>
static class TorchPlainLoop
{
    public static Summary Run(BenchmarkOptions o)
    {
        VaeTools.Torch.TorchRuntime.EnsureLoaded();
        torch.set_num_threads(o.Threads);
        torch.manual_seed((long)o.Seed);
        var train = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Train, Directory = o.Data, Count = o.Limit });
        var test = MnistDataset.Load(new MnistLoadOptions { Subset = MnistSubset.Test, Directory = o.Data });
        using var trainX = All(train);
        using var testX = All(test);
        int h = o.Hidden[0], p = o.Latent, d = train.Features;
        var enc = nn.Linear(d, h); var mu = nn.Linear(h, p); var lv = nn.Linear(h, p);
        var dec1 = nn.Linear(p, h); var dec2 = nn.Linear(h, d);
        var parameters = new[] { enc, mu, lv, dec1, dec2 }.SelectMany(m => m.parameters()).ToArray();
        using var adam = optim.Adam(parameters, o.LearningRate);
        Tensor Loss(Tensor x)
        {
            var hid = F.relu(enc.call(x));
            var m = mu.call(hid); var v = lv.call(hid);
            var z = m + (v * 0.5).exp() * randn_like(m);
            var logits = dec2.call(F.relu(dec1.call(z)));
            var rec = F.binary_cross_entropy_with_logits(logits, x, reduction: nn.Reduction.Sum);
            var kl = -0.5 * (1 + v - m.square() - v.exp()).sum();
            return (rec + kl) / x.shape[0];
        }
        var seconds = new List<double>();
        double finalTest = double.NaN;
        long n = trainX.shape[0];
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double sum = 0;
            using (var perm = randperm(n))
            for (long start = 0; start < n; start += o.BatchSize)
            {
                using var scope = NewDisposeScope();
                long count = Math.Min(o.BatchSize, n - start);
                var x = trainX.index_select(0, perm.narrow(0, start, count));
                adam.zero_grad();
                var loss = Loss(x);
                loss.backward();
                adam.step();
                sum += loss.item<float>() * count;
            }
            double s = clock.Elapsed.TotalSeconds;
            seconds.Add(s);
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                double t = 0;
                for (long start = 0; start < testX.shape[0]; start += o.BatchSize)
                {
                    long count = Math.Min(o.BatchSize, testX.shape[0] - start);
                    t += Loss(testX.narrow(0, start, count)).item<float>() * count;
                }
                finalTest = t / testX.shape[0];
            }
            Console.WriteLine(new JsonObject { ["impl"] = "torchsharp-plain", ["epoch"] = epoch, ["train_loss"] = sum / n, ["test_loss"] = finalTest, ["epoch_seconds"] = s }.ToJsonString());
        }
        var summary = new Summary(seconds.Average(), seconds.Min(), finalTest);
        Console.WriteLine(new JsonObject
        {
            ["impl"] = "torchsharp-plain", ["summary"] = true, ["epochs"] = seconds.Count, ["mean_epoch_seconds"] = summary.MeanEpochSeconds,
            ["min_epoch_seconds"] = summary.MinEpochSeconds, ["final_test_loss"] = finalTest, ["threads"] = o.Threads,
            ["peak_working_set_mb"] = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0),
        }.ToJsonString());
        return summary;
    }

    private static Tensor All(IDataset data)
    {
        var values = new float[(long)data.Count * data.Features];
        data.CopyRows(Enumerable.Range(0, data.Count).ToArray(), values, null);
        return tensor(values, new long[] { data.Count, data.Features });
    }
}
