using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>New-PpcaModel and the PPCA / mean-image paths of Measure-ReconstructionError, driven record by record.</summary>
public class PpcaLogicTests
{
    private static TensorDataset Data(int n = 300, ulong seed = 2)
    {
        // Points near a 2-D plane in 6-D, with labels 0-2.
        var random = new RandomSource(seed);
        var x = new Tensor(n, 6);
        var labels = new int[n];
        for (int r = 0; r < n; r++)
        {
            double a = random.NextGaussian(), b = random.NextGaussian();
            for (int j = 0; j < 6; j++) x[r, j] = (float)(a * (j + 1) - b * (6 - j) + 0.3 * random.NextGaussian());
            labels[r] = r % 3;
        }
        return new TensorDataset(x, labels, "plane data");
    }

    [Fact]
    public void New_PpcaModel_emits_the_closed_form_fit_and_says_its_noise_variance()
    {
        var data = Data();
        var sink = new RecordingSink();
        PpcaLogic.Process(sink, new PpcaParameters { LatentDim = 2, Seed = 5 }, data, CancellationToken.None);
        var model = sink.Single<VaeModel>();
        var expected = Ppca.Fit(data, 2, 5);
        for (int i = 0; i < model.Parameters.Count; i++)
            Assert.Equal(expected.Parameters[i].Value.ToArray(), model.Parameters[i].Value.ToArray());
        Assert.Equal(5UL, model.Config.Seed);
        Assert.Contains(sink.Verbose, v => v.Contains("noise variance sigma^2 =") && v.Contains("4 discarded eigenvalues"));
        Assert.Contains(sink.Progress, p => p.Completed);
    }

    [Fact]
    public void New_PpcaModel_rejects_a_latent_size_that_leaves_no_noise()
    {
        var sink = new RecordingSink();
        PpcaLogic.Process(sink, new PpcaParameters { LatentDim = 6 }, Data(), CancellationToken.None);
        var error = Assert.Single(sink.Errors);
        Assert.Equal(("LatentDimTooLarge", ErrorKind.InvalidArgument), (error.ErrorId, error.Category));
        Assert.Contains("at most 5", error.Message);
        Assert.Empty(sink.Output);

        var missing = new RecordingSink();
        PpcaLogic.Process(missing, new PpcaParameters(), null, CancellationToken.None);
        Assert.Equal("MissingData", Assert.Single(missing.Errors).ErrorId);
    }

    [Fact]
    public void Measuring_a_PPCA_model_reports_its_exact_log_likelihood_per_class_too()
    {
        var data = Data();
        var model = Ppca.Fit(data, 2);
        var sink = new RecordingSink();
        new MeasureLogic(new MeasureParameters { ByClass = true, ImportanceSamples = 50 }).Process(sink, model, data, CancellationToken.None);
        var results = sink.Output.Cast<ReconstructionMetrics>().ToList();
        Assert.Equal(new int?[] { 0, 1, 2 }, results.Select(r => r.Label));
        var exact = Ppca.ExactLogLikelihood(model, data);
        for (int label = 0; label < 3; label++)
        {
            var values = Enumerable.Range(0, data.Count).Where(i => i % 3 == label).Select(i => exact[i]).ToArray();
            Assert.Equal(values.Average(), results[label].LogLikelihood!.Value, 9);
            Assert.Null(results[label].ImportanceSamples); // exact, not an estimate
            double sd = Math.Sqrt(values.Sum(v => (v - values.Average()) * (v - values.Average())) / (values.Length - 1));
            Assert.Equal(sd / Math.Sqrt(values.Length), results[label].LogLikelihoodStandardError!.Value, 9);
        }
        Assert.Contains(sink.Verbose, v => v.Contains("exact") && v.Contains("-ImportanceSamples 50 was not needed"));
    }

    [Fact]
    public void The_mean_image_baseline_is_measured_with_MeanImageOf_instead_of_a_model()
    {
        var train = Data(300, 2);
        var test = Data(90, 3);
        var sink = new RecordingSink();
        new MeasureLogic(new MeasureParameters { MeanImageOf = train }).Process(sink, null, test, CancellationToken.None);
        var r = sink.Single<ReconstructionMetrics>();
        var expected = Ppca.MeanImageBaseline(train, test)[0];
        Assert.Equal(expected, r);
        // Independently: the mean squared distance of the test images to the training mean.
        var mean = new double[6];
        for (int i = 0; i < train.Count; i++) for (int j = 0; j < 6; j++) mean[j] += train.Data[i, j] / (double)train.Count;
        double se = 0;
        for (int i = 0; i < test.Count; i++) for (int j = 0; j < 6; j++) se += Math.Pow(test.Data[i, j] - mean[j], 2) / test.Count;
        Assert.Equal(se, r.MeanSquaredError, 6);
        Assert.True(r.MeanSquaredError > ReconstructionAnalysis.Measure(Ppca.Fit(train, 2), test)[0].MeanSquaredError);

        var narrow = new RecordingSink();
        new MeasureLogic(new MeasureParameters { MeanImageOf = new TensorDataset(new Tensor(3, 5)) }).Process(narrow, null, test, CancellationToken.None);
        Assert.Equal("WidthMismatch", Assert.Single(narrow.Errors).ErrorId);
    }
}
