using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Imaging;
using VaeTools.Model;
using VaeTools.PowerShell;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>
/// The quick-start pipelines of the module, driven through the logic classes the way PowerShell drives the
/// cmdlets (one Process call per pipeline object), on small synthetic MNIST-shaped data.
/// </summary>
public sealed class PipelineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-pipeline-").FullName;
    private readonly List<MnistLoadOptions> _loads = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Get-MnistData with a loader that records its options and returns synthetic data of the asked subset.</summary>
    private MnistDataset GetMnistData(GetMnistDataParameters p)
    {
        var sink = new RecordingSink();
        new GetMnistDataLogic(p, (options, _) =>
        {
            _loads.Add(options);
            return SyntheticMnist.Create(options.Subset == MnistSubset.Train ? 200 : 50, options.Subset == MnistSubset.Train ? 1UL : 2UL, options);
        }).Process(sink, CancellationToken.None);
        Assert.Empty(sink.Errors);
        return sink.Single<MnistDataset>();
    }

    private static VaeModel NewVae(NewVaeParameters p, IDataset? piped = null)
    {
        var sink = new RecordingSink();
        new NewVaeLogic(p).Process(sink, piped);
        Assert.Empty(sink.Errors);
        return sink.Single<VaeModel>();
    }

    private static VaeModel Train(VaeModel? model, IDataset? data, TrainingParameters p, RecordingSink? sink = null)
    {
        sink ??= new RecordingSink();
        var logic = new TrainingLogic(p);
        logic.Process(sink, model, data, CancellationToken.None);
        Assert.Empty(sink.Errors);
        return sink.Single<VaeModel>();
    }

    private static NewVaeParameters Small(int latent = 2, ulong seed = 3) => new() { LatentDim = latent, HiddenDim = new[] { 32 }, Seed = seed };

    [Fact]
    public void The_quick_start_pipeline_works_end_to_end()
    {
        // $train = Get-MnistData -Subset Train; $test = Get-MnistData -Subset Test
        var train = GetMnistData(new GetMnistDataParameters { Subset = "Train" });
        var test = GetMnistData(new GetMnistDataParameters { Subset = "Test" });
        Assert.Equal(new[] { MnistSubset.Train, MnistSubset.Test }, _loads.Select(o => o.Subset));
        Assert.All(_loads, o => Assert.True(o.AllowDownload));
        Assert.All(_loads, o => Assert.Null(o.Directory));

        // $vae = New-Vae -LatentDim 2 | Invoke-VaeTraining -Data $train -ValidationData $test -Epochs 5
        var created = NewVae(Small());
        var untrained = created.Clone();
        var trainSink = new RecordingSink();
        var vae = Train(created, train, new TrainingParameters { Epochs = 5, BatchSize = 50, ValidationData = test, ThrottleLimit = 1 }, trainSink);
        Assert.Same(created, vae); // trained in place and passed on
        // $vae.History | Export-Csv history.csv
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, vae.History.Select(r => r.Epoch));
        Assert.All(vae.History, r => Assert.NotNull(r.TestLoss));
        Assert.True(vae.History[^1].TrainLoss < vae.History[0].TrainLoss, "training did not lower the loss");
        Assert.Equal(5, trainSink.Verbose.Count(v => v.StartsWith("Epoch ")));

        // $vae | Measure-ReconstructionError -Data $test
        var measureSink = new RecordingSink();
        new MeasureLogic(new MeasureParameters()).Process(measureSink, vae, test, CancellationToken.None);
        var metrics = measureSink.Single<ReconstructionMetrics>();
        Assert.Equal(50, metrics.Count);
        var before = ReconstructionAnalysis.Measure(untrained, test).Single();
        Assert.True(metrics.BinaryCrossEntropy < before.BinaryCrossEntropy, $"trained BCE {metrics.BinaryCrossEntropy} not below untrained {before.BinaryCrossEntropy}");

        // $test | Get-VaeEncoding -Model $vae | Export-Csv codes.csv
        var encodingSink = new RecordingSink();
        var encoding = new EncodingLogic(vae, new EncodingParameters());
        encoding.Begin(encodingSink);
        encoding.ProcessData(encodingSink, test, CancellationToken.None);
        encoding.End(encodingSink);
        var codes = encodingSink.Output.Cast<LatentCode>().ToList();
        Assert.Equal(Enumerable.Range(0, 50), codes.Select(c => c.Index));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (int?)test.GetLabel(i)), codes.Select(c => c.Label));
        Assert.All(codes, c => { Assert.Equal(c.Mean[0], c.Z1); Assert.Equal(c.Mean[1], c.Z2); });

        // $vae | New-VaeSample -Count 100 -OutFile samples.png
        string png = Path.Combine(_dir, "samples.png");
        var sampleSink = new RecordingSink();
        new SampleLogic(new SampleParameters { Count = 100, OutFile = png, Seed = 1 }).Process(sampleSink, vae);
        Assert.Empty(sampleSink.Output);
        var image = PngDecoder.ReadFile(png);
        // 10 x 10 tiles of 28 px with the grid's default 2 px padding between and around them.
        Assert.Equal(10 * 28 + 11 * 2, image.Width);
        Assert.Equal(10 * 28 + 11 * 2, image.Height);

        // $vae | Export-Vae -Path mnist.safetensors
        string file = Path.Combine(_dir, "mnist.safetensors");
        var exportSink = new RecordingSink();
        ModelFileLogic.Export(exportSink, vae, file, noClobber: false, passThru: false);
        Assert.Empty(exportSink.Errors);
        Assert.Equal(file, Assert.Single(exportSink.ShouldProcessCalls).Target);

        // Import-Vae mnist.safetensors | Invoke-VaeTraining -Data $train -Epochs 1
        var importSink = new RecordingSink();
        ModelFileLogic.Import(importSink, file);
        var imported = importSink.Single<VaeModel>();
        Assert.Equal(vae.Config, imported.Config);
        Assert.Equal(vae.History, imported.History);
        var again = Train(imported, train, new TrainingParameters { Epochs = 1, BatchSize = 50 });
        Assert.Equal(6, again.History.Count);
        Assert.Equal(6, again.History[^1].Epoch);
    }

    [Fact]
    public void A_class_subset_piped_into_training_with_a_seeded_model()
    {
        // Get-MnistData -Classes 0,1,4,9 | Invoke-VaeTraining -Model (New-Vae -Seed 7) -Epochs 2
        var data = GetMnistData(new GetMnistDataParameters { Classes = new[] { 0, 1, 4, 9 } });
        Assert.Equal(new[] { 0, 1, 4, 9 }, _loads.Single().Classes);
        Assert.All(Enumerable.Range(0, data.Count), i => Assert.Contains(data.GetLabel(i), new[] { 0, 1, 4, 9 }));
        var model = NewVae(new NewVaeParameters { Seed = 7, HiddenDim = new[] { 16 } });
        Assert.Equal(7UL, model.Config.Seed);
        var trained = Train(model, data, new TrainingParameters { Epochs = 2, BatchSize = 40 });
        Assert.Equal(2, trained.History.Count);
    }

    [Fact]
    public void New_Vae_sizes_itself_to_a_piped_data_set()
    {
        var data = new TensorDataset(new VaeTools.Engine.Tensor(5, 16), null, "sixteen wide");
        var model = NewVae(new NewVaeParameters { HiddenDim = new[] { 8 }, LatentDim = 3 }, data);
        Assert.Equal(16, model.Config.InputDim);
        var trained = Train(model, data, new TrainingParameters { Epochs = 1 });
        Assert.Single(trained.History);
    }
}
