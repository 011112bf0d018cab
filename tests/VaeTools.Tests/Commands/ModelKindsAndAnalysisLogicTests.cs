using System.Text;
using System.Xml.Linq;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Imaging;
using VaeTools.Model;
using VaeTools.PowerShell;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>
/// Model kinds, objectives and the analysis through the cmdlet logic: New-Vae's likelihood / prior / decoder-only options,
/// Invoke-VaeTraining's objectives, Measure-ReconstructionError -ImportanceSamples, New-VaeSample grids and
/// interpolations, Get-VaeToyData, Measure-VaeLatent and Export-VaePlot.
/// </summary>
public sealed class ModelKindsAndAnalysisLogicTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-toolkit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly VaeConfig Config = new() { InputDim = 784, HiddenDims = new[] { 16 }, LatentDim = 2, Seed = 4 };
    private static readonly MnistDataset Data = SyntheticMnist.Create(30);

    /// <summary>A small model trained for two epochs on the synthetic digits, so encodings differ between images.</summary>
    private static readonly Lazy<VaeModel> Trained = new(() =>
    {
        var model = new VaeModel(Config);
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 10, LearningRate = 1e-2, Seed = 1, ThrottleLimit = 1 })
            .Process(sink, model, Data, CancellationToken.None);
        Assert.Empty(sink.Errors);
        return model;
    });

    private static RecordingSink NewVae(NewVaeParameters p, IDataset? data = null)
    {
        var sink = new RecordingSink();
        new NewVaeLogic(p).Process(sink, data);
        return sink;
    }

    // ---- New-Vae ----

    [Theory]
    [InlineData("Bernoulli", Likelihood.Bernoulli)]
    [InlineData("GaussianSharedVariance", Likelihood.GaussianSharedVariance)]
    [InlineData("gaussianperdimensionvariance", Likelihood.GaussianPerDimensionVariance)]
    [InlineData("GaussianUnitVariance", Likelihood.GaussianUnitVariance)]
    public void New_Vae_builds_every_likelihood(string name, Likelihood expected)
    {
        var sink = NewVae(new NewVaeParameters { Likelihood = name, HiddenDim = new[] { 8 }, InputDim = 10, Seed = 1 });
        Assert.Empty(sink.Errors);
        var model = sink.Single<VaeModel>();
        Assert.Equal(expected, model.Config.Likelihood);
        // The model works end to end: its decoded images have the input width.
        Assert.Equal((3, 10), (model.Sample(3, 1f, new RandomSource(1)).Rows, model.Sample(3, 1f, new RandomSource(1)).Cols));
    }

    [Fact]
    public void New_Vae_maps_the_prior_decoder_only_and_sigmoid_options()
    {
        var sink = NewVae(new NewVaeParameters
        {
            Likelihood = "GaussianSharedVariance", SigmoidMean = true, DecoderOnly = true, PriorSamples = 12, Prior = "laplace", LaplaceScale = 0.5,
            HiddenDim = new[] { 8 }, InputDim = 10, Seed = 1,
        });
        Assert.Empty(sink.Warnings);
        var c = sink.Single<VaeModel>().Config;
        Assert.Equal((true, true, 12, Prior.Laplace, 0.5f), (c.SigmoidMean, c.DecoderOnly, c.PriorSamples, c.Prior, c.LaplaceScale));
        Assert.Null(sink.Single<VaeModel>().EncoderMean); // no encoder at all
    }

    [Fact]
    public void New_Vae_defaults_to_five_prior_samples_a_standard_normal_prior_and_no_sigmoid()
    {
        var c = NewVae(new NewVaeParameters { DecoderOnly = true, HiddenDim = new[] { 8 }, Seed = 1 }).Single<VaeModel>().Config;
        Assert.Equal((5, Prior.StandardNormal, false, 1f), (c.PriorSamples, c.Prior, c.SigmoidMean, c.LaplaceScale));
    }

    [Fact]
    public void New_Vae_warns_about_settings_that_have_no_effect()
    {
        var sink = NewVae(new NewVaeParameters { SigmoidMean = true, PriorSamples = 7, LaplaceScale = 2, HiddenDim = new[] { 8 }, Seed = 1 });
        Assert.Single(sink.Output);
        Assert.Equal(3, sink.Warnings.Count);
        Assert.Contains(sink.Warnings, w => w.Contains("-SigmoidMean") && w.Contains("Bernoulli"));
        Assert.Contains(sink.Warnings, w => w.Contains("-PriorSamples") && w.Contains("-DecoderOnly"));
        Assert.Contains(sink.Warnings, w => w.Contains("-LaplaceScale") && w.Contains("-Prior Laplace"));
    }

    [Fact]
    public void New_Vae_with_an_unknown_prior_names_the_allowed_ones()
    {
        var e = Assert.Single(NewVae(new NewVaeParameters { Prior = "Cauchy" }).Errors);
        Assert.Equal(ErrorKind.InvalidArgument, e.Category);
        Assert.Contains("StandardNormal, Laplace", e.Message);
    }

    // ---- Get-VaeToyData ----

    private static TensorDataset Toy(int count, bool rotated, ulong seed)
    {
        var sink = new RecordingSink();
        ToyDataLogic.Process(sink, new ToyDataParameters { Count = count, Rotated = rotated, Seed = seed });
        Assert.Contains(sink.Verbose, v => v.Contains($"seed {seed}"));
        return sink.Single<TensorDataset>();
    }

    [Fact]
    public void Toy_data_is_the_spec_Gaussian_axis_aligned_or_rotated_and_seeded()
    {
        static (double Vx, double Vy, double Cxy, double Mx, double My) Moments(TensorDataset d)
        {
            var t = d.Data;
            double mx = 0, my = 0;
            for (int i = 0; i < t.Rows; i++) { mx += t[i, 0]; my += t[i, 1]; }
            mx /= t.Rows; my /= t.Rows;
            double vx = 0, vy = 0, c = 0;
            for (int i = 0; i < t.Rows; i++) { vx += (t[i, 0] - mx) * (t[i, 0] - mx); vy += (t[i, 1] - my) * (t[i, 1] - my); c += (t[i, 0] - mx) * (t[i, 1] - my); }
            return (vx / t.Rows, vy / t.Rows, c / t.Rows, mx, my);
        }
        var plain = Toy(20000, false, 3);
        Assert.Equal((20000, 2), (plain.Count, plain.Features));
        var m = Moments(plain);
        // N([2, 3], diag(9, 1)): sampling errors at n = 20000 are about 1-2 % of these.
        Assert.Equal(9, m.Vx, 0.4); Assert.Equal(1, m.Vy, 0.05); Assert.Equal(0, m.Cxy, 0.15);
        Assert.Equal(2, m.Mx, 0.1); Assert.Equal(3, m.My, 0.05);
        // Rotated by 45 degrees: R diag(9, 1) R^T = [[5, 4], [4, 5]].
        // Only the covariance is rotated (the homework's set): the mean stays [2, 3].
        var r = Moments(Toy(20000, true, 3));
        Assert.Equal(5, r.Vx, 0.3); Assert.Equal(5, r.Vy, 0.3); Assert.Equal(4, r.Cxy, 0.3);
        Assert.Equal(2, r.Mx, 0.1); Assert.Equal(3, r.My, 0.1);
        Assert.Equal(Toy(10, true, 9).Data.ToArray(), Toy(10, true, 9).Data.ToArray());
        Assert.NotEqual(Toy(10, true, 9).Data.ToArray(), Toy(10, true, 10).Data.ToArray());
    }

    [Fact]
    public void Toy_data_splits_70_30_into_disjoint_parts_of_the_same_draw()
    {
        TensorDataset Part(string subset, int count = 1001)
        {
            var sink = new RecordingSink();
            ToyDataLogic.Process(sink, new ToyDataParameters { Count = count, Rotated = true, Seed = 5, Subset = subset });
            Assert.Empty(sink.Errors);
            return sink.Single<TensorDataset>();
        }
        var all = Part("All").Data.ToArray();
        var train = Part("Train");
        var test = Part("test"); // as PowerShell's ValidateSet, case does not matter
        Assert.Equal((701, 300), (train.Count, test.Count)); // round(0.7 * 1001) = 701
        Assert.Equal(all, train.Data.ToArray().Concat(test.Data.ToArray()));
        Assert.Contains("training 70%", train.Description);
        Assert.Contains("test 30%", test.Description);

        var tiny = new RecordingSink();
        ToyDataLogic.Process(tiny, new ToyDataParameters { Count = 1, Seed = 5, Subset = "Test" });
        var error = Assert.Single(tiny.Errors);
        Assert.Equal(ErrorKind.InvalidArgument, error.Category);
        Assert.Contains("no test points", error.Message);
    }

    [Fact]
    public void Toy_data_piped_into_New_Vae_gives_a_two_input_model_that_trains()
    {
        var toy = Toy(200, true, 1);
        var model = NewVae(new NewVaeParameters { Likelihood = "GaussianPerDimensionVariance", HiddenDim = new[] { 8 }, LatentDim = 1, Seed = 2 }, toy).Single<VaeModel>();
        Assert.Equal(2, model.Config.InputDim);
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 50, LearningRate = 1e-2, ThrottleLimit = 1 }).Process(sink, model, toy, CancellationToken.None);
        Assert.Empty(sink.Errors);
        Assert.Equal(2, sink.Single<VaeModel>().History.Count);
        Assert.True(double.IsFinite(model.History[^1].TrainLoss));
    }

    [Fact]
    public void Toy_data_with_no_points_is_an_InvalidArgument_error()
    {
        var sink = new RecordingSink();
        ToyDataLogic.Process(sink, new ToyDataParameters { Count = 0, Seed = 1 });
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Single(sink.Errors).Category);
        Assert.Empty(sink.Output);
    }

    // ---- Invoke-VaeTraining -Objective -Samples -KlWarmupEpochs ----

    [Fact]
    public void Training_maps_the_objective_samples_and_warm_up()
    {
        var o = new TrainingLogic(new TrainingParameters { Objective = "iwae", Samples = 5, KlWarmupEpochs = 3 }).BuildOptions();
        Assert.Equal((Objective.Iwae, 5, 3), (o.Objective, o.Samples, o.KlWarmupEpochs));
        var d = new TrainingLogic(new TrainingParameters()).BuildOptions();
        Assert.Equal((Objective.Elbo, 1, 0), (d.Objective, d.Samples, d.KlWarmupEpochs));
        var e = Assert.Throws<CommandException>(() => new TrainingLogic(new TrainingParameters { Objective = "Vimco" }).BuildOptions());
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Category);
        Assert.Contains("Elbo, Iwae", e.Message);
    }

    [Fact]
    public void Iwae_training_with_a_KL_warm_up_ramps_beta_and_trains()
    {
        var model = new VaeModel(Config);
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 10, Objective = "Iwae", Samples = 3, KlWarmupEpochs = 4, Seed = 1, ThrottleLimit = 1 })
            .Process(sink, model, Data, CancellationToken.None);
        Assert.Empty(sink.Errors);
        Assert.Empty(sink.Warnings);
        Assert.Equal(2, model.History.Count);
        Assert.All(model.History, r => Assert.True(double.IsFinite(r.TrainLoss)));
        // Linear warm-up over 4 epochs: beta is below the model's 1 after epoch 1 and rises.
        Assert.InRange(model.History[0].Beta, 0.01, 0.5);
        Assert.True(model.History[1].Beta > model.History[0].Beta);
    }

    [Fact]
    public void A_decoder_only_model_warns_that_the_objective_does_not_apply()
    {
        var model = new VaeModel(Config with { DecoderOnly = true });
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 1, BatchSize = 10, Objective = "Iwae", Samples = 4, ThrottleLimit = 1 })
            .Process(sink, model, Data, CancellationToken.None);
        Assert.Contains("decoder-only", Assert.Single(sink.Warnings));
        Assert.Single(sink.Output);
    }

    // ---- Measure-ReconstructionError -ImportanceSamples ----

    private static List<ReconstructionMetrics> Measure(MeasureParameters p, VaeModel model, IDataset data, RecordingSink? sink = null, CancellationToken cancellation = default)
    {
        sink ??= new RecordingSink();
        new MeasureLogic(p, () => TimeSpan.Zero).Process(sink, model, data, cancellation);
        Assert.Empty(sink.Errors);
        return sink.Output.Cast<ReconstructionMetrics>().ToList();
    }

    [Fact]
    public void Without_ImportanceSamples_there_is_no_log_likelihood()
    {
        var r = Assert.Single(Measure(new MeasureParameters(), Trained.Value, Data));
        Assert.Equal((30, (double?)null, (double?)null, (int?)null), (r.Count, r.LogLikelihood, r.LogLikelihoodStandardError, r.ImportanceSamples));
        Assert.True(r.MeanSquaredError > 0);
    }

    [Fact]
    public void ImportanceSamples_adds_a_log_likelihood_above_the_ELBO_with_its_standard_error()
    {
        var sink = new RecordingSink();
        var r = Assert.Single(Measure(new MeasureParameters { ImportanceSamples = 200, Seed = 5 }, Trained.Value, Data, sink));
        Assert.Equal(200, r.ImportanceSamples);
        Assert.NotNull(r.LogLikelihood);
        // L_200 is a tighter bound on log p(x) than the ELBO (here a one-sample estimate, so allow its noise).
        Assert.True(r.LogLikelihood > r.Elbo - 1, $"log p(x) {r.LogLikelihood} vs ELBO {r.Elbo}");
        Assert.True(r.LogLikelihood < 0);
        Assert.InRange(r.LogLikelihoodStandardError!.Value, 1e-6, 100);
        // Progress of the estimate (activity 2) ends closed; a verbose line gives the estimate.
        Assert.Contains(sink.Progress, p => p.ActivityId == MeasureLogic.LikelihoodActivity && !p.Completed && p.PercentComplete == 100);
        Assert.True(sink.Progress.Last(p => p.ActivityId == MeasureLogic.LikelihoodActivity).Completed);
        Assert.Contains(sink.Verbose, v => v.Contains("200 importance samples"));
    }

    [Fact]
    public void ByClass_log_likelihoods_average_back_to_the_overall_one()
    {
        var p = new MeasureParameters { ImportanceSamples = 5, Seed = 2 };
        var all = Assert.Single(Measure(p, Trained.Value, Data));
        var byClass = Measure(new MeasureParameters { ImportanceSamples = 5, Seed = 2, ByClass = true }, Trained.Value, Data);
        Assert.Equal(10, byClass.Count);
        Assert.All(byClass, r => Assert.NotNull(r.LogLikelihood));
        double weighted = byClass.Sum(r => r.Count * r.LogLikelihood!.Value) / byClass.Sum(r => r.Count);
        Assert.Equal(all.LogLikelihood!.Value, weighted, 6);
    }

    [Fact]
    public void Ctrl_C_during_the_estimate_emits_nothing()
    {
        using var stop = new CancellationTokenSource();
        var sink = new RecordingSink { OnProgress = p => { if (p.ActivityId == MeasureLogic.LikelihoodActivity) stop.Cancel(); } };
        new MeasureLogic(new MeasureParameters { ImportanceSamples = 50 }, () => TimeSpan.Zero).Process(sink, Trained.Value, SyntheticMnist.Create(200), stop.Token);
        Assert.True(stop.IsCancellationRequested);
        Assert.Empty(sink.Output);
        Assert.Empty(sink.Errors);
    }

    // ---- New-VaeSample: grids and interpolations ----

    private static Tensor Images(SampleParameters p, VaeModel model, RecordingSink? sink = null)
    {
        sink ??= new RecordingSink();
        p.AsTensor = true;
        new SampleLogic(p).Process(sink, model);
        Assert.Empty(sink.Errors);
        return sink.Single<Tensor>();
    }

    private static float[] DecodeOne(VaeModel model, params float[] z) => model.Decode(new Tensor(1, z.Length, z)).Row(0).ToArray();

    [Fact]
    public void Quantile_grid_is_the_default_and_runs_from_the_top_left()
    {
        var model = Trained.Value;
        var grid = Images(new SampleParameters { Grid = 4 }, model);
        Assert.Equal((16, 784), (grid.Rows, grid.Cols));
        // Standard-normal quantiles of 1/8 and 7/8: -/+ 1.1503493803760079 (tables).
        const float q = 1.1503494f;
        Assert.Equal(DecodeOne(model, -q, q), grid.Row(0).ToArray(), new FloatTolerance(1e-5f));
        Assert.Equal(DecodeOne(model, q, -q), grid.Row(15).ToArray(), new FloatTolerance(1e-5f));
        Assert.Equal(grid.ToArray(), Images(new SampleParameters { Grid = 4, Quantile = true }, model).ToArray());
    }

    [Fact]
    public void Range_grid_spans_the_given_corners()
    {
        var model = Trained.Value;
        var grid = Images(new SampleParameters { Grid = 3, Range = new[] { -2.0, 4, -1, 1 } }, model);
        Assert.Equal(9, grid.Rows);
        Assert.Equal(DecodeOne(model, -2, 1), grid.Row(0).ToArray(), new FloatTolerance(1e-5f));
        Assert.Equal(DecodeOne(model, 1, 0), grid.Row(4).ToArray(), new FloatTolerance(1e-5f));
        Assert.Equal(DecodeOne(model, 4, -1), grid.Row(8).ToArray(), new FloatTolerance(1e-5f));
    }

    [Fact]
    public void Data_grid_spans_the_range_of_the_encodings()
    {
        var model = Trained.Value;
        var mean = model.Encode(Data).Mean;
        float x0 = float.MaxValue, x1 = float.MinValue, y0 = float.MaxValue, y1 = float.MinValue;
        for (int i = 0; i < mean.Rows; i++)
        {
            x0 = Math.Min(x0, mean[i, 0]); x1 = Math.Max(x1, mean[i, 0]); y0 = Math.Min(y0, mean[i, 1]); y1 = Math.Max(y1, mean[i, 1]);
        }
        var grid = Images(new SampleParameters { Grid = 5, Data = Data }, model);
        Assert.Equal(DecodeOne(model, x0, y1), grid.Row(0).ToArray(), new FloatTolerance(1e-5f));
        Assert.Equal(DecodeOne(model, x1, y0), grid.Row(24).ToArray(), new FloatTolerance(1e-5f));
    }

    [Fact]
    public void A_grid_PNG_has_one_column_per_grid_point()
    {
        string png = Path.Combine(_dir, "grid.png");
        var sink = new RecordingSink();
        new SampleLogic(new SampleParameters { Grid = 6, OutFile = png }).Process(sink, Trained.Value);
        Assert.Empty(sink.Output);
        var image = PngDecoder.ReadFile(png);
        Assert.Equal((6 * 28 + 7 * 2, 6 * 28 + 7 * 2), (image.Width, image.Height));
        Assert.Contains("6 x 6", Assert.Single(sink.ShouldProcessCalls).Action);
    }

    [Fact]
    public void Grid_errors_a_latent_space_that_is_not_2_D_and_conflicting_ranges()
    {
        var sink = new RecordingSink();
        new SampleLogic(new SampleParameters { Grid = 4 }).Process(sink, new VaeModel(Config with { LatentDim = 3 }));
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("GridNeedsTwoDimensions", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Contains("3 latent dimensions", e.Message);

        var both = new RecordingSink();
        new SampleLogic(new SampleParameters { Grid = 4, Range = new[] { 0.0, 1, 0, 1 }, Quantile = true }).Process(both, Trained.Value);
        Assert.Equal("AmbiguousGridRange", Assert.Single(both.Errors).ErrorId);

        var empty = new RecordingSink();
        new SampleLogic(new SampleParameters { Grid = 4, Range = new[] { 1.0, 1, 0, 1 } }).Process(empty, Trained.Value);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Single(empty.Errors).Category);
        Assert.Empty(empty.Output);
    }

    [Fact]
    public void Interpolation_runs_from_the_code_of_one_image_to_the_other()
    {
        var model = Trained.Value;
        var a = ImageRecord.FromDataset(Data, 3, null);
        var b = ImageRecord.FromDataset(Data, 8, null);
        var line = Images(new SampleParameters { From = a, To = b, Steps = 5 }, model);
        Assert.Equal(5, line.Rows);
        var mean = model.Encode(Data).Mean;
        float[] za = mean.Row(3).ToArray(), zb = mean.Row(8).ToArray();
        Assert.Equal(DecodeOne(model, za), line.Row(0).ToArray(), new FloatTolerance(1e-5f));
        Assert.Equal(DecodeOne(model, zb), line.Row(4).ToArray(), new FloatTolerance(1e-5f));
        Assert.Equal(DecodeOne(model, (za[0] + zb[0]) / 2, (za[1] + zb[1]) / 2), line.Row(2).ToArray(), new FloatTolerance(1e-5f));
        // Row numbers of -Data and codes from Get-VaeEncoding give the same line.
        Assert.Equal(line.ToArray(), Images(new SampleParameters { From = 3, To = 8L, Data = Data, Steps = 5 }, model).ToArray(), new FloatTolerance(1e-6f));
        var codeA = new LatentCode(3, 3, za, za, za);
        Assert.Equal(line.ToArray(), Images(new SampleParameters { From = codeA, To = b, Steps = 5 }, model).ToArray(), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Interpolation_emits_images_and_writes_one_row_of_Steps_tiles()
    {
        var sink = new RecordingSink();
        string png = Path.Combine(_dir, "line.png");
        new SampleLogic(new SampleParameters { From = 0, To = 1, Data = Data, Steps = 7, OutFile = png, PassThru = true }).Process(sink, Trained.Value);
        Assert.Equal(Enumerable.Range(0, 7), sink.Output.Cast<ImageRecord>().Select(i => i.Index));
        Assert.Equal((7 * 28 + 8 * 2, 28 + 2 * 2), (PngDecoder.ReadFile(png).Width, PngDecoder.ReadFile(png).Height));
    }

    [Theory]
    [InlineData("index without data")]
    [InlineData("index out of range")]
    [InlineData("unsupported")]
    [InlineData("decoder-only")]
    [InlineData("wrong width")]
    public void Interpolation_ends_that_cannot_be_encoded_are_errors_that_say_why(string kind)
    {
        var model = kind == "decoder-only" ? new VaeModel(Config with { DecoderOnly = true }) : Trained.Value;
        var p = kind switch
        {
            "index without data" => new SampleParameters { From = 1, To = 2 },
            "index out of range" => new SampleParameters { From = 1, To = 30, Data = Data },
            "unsupported" => new SampleParameters { From = "seven", To = 2, Data = Data },
            "wrong width" => new SampleParameters { From = new ImageRecord(0, null, new float[16], 4, 4), To = 2, Data = Data },
            _ => new SampleParameters { From = ImageRecord.FromDataset(Data, 0, null), To = ImageRecord.FromDataset(Data, 1, null) },
        };
        var sink = new RecordingSink();
        new SampleLogic(p).Process(sink, model);
        var e = Assert.Single(sink.Errors);
        Assert.Empty(sink.Output);
        var (id, category, text) = kind switch
        {
            "index without data" => ("MissingData", ErrorKind.InvalidArgument, "-Data"),
            "index out of range" => ("IndexOutOfRange", ErrorKind.InvalidArgument, "0..29"),
            "unsupported" => ("UnsupportedInterpolationEnd", ErrorKind.InvalidArgument, "System.String"),
            "wrong width" => ("WidthMismatch", ErrorKind.InvalidArgument, "16 values"),
            _ => ("DecoderOnlyModel", ErrorKind.InvalidOperation, "no encoder"),
        };
        Assert.Equal((id, category), (e.ErrorId, e.Category));
        Assert.Contains(text, e.Message);
    }

    // ---- Measure-VaeLatent ----

    [Fact]
    public void Latent_measure_emits_one_object_per_dimension_with_KL_variance_and_activity()
    {
        var model = new VaeModel(Config with { LatentDim = 4 });
        var sink = new RecordingSink();
        new LatentLogic(new LatentParameters { ChunkSize = 7, Threshold = 1e-4, KlThreshold = 0.02 }).Process(sink, model, Data, CancellationToken.None);
        var dims = sink.Output.Cast<LatentDimension>().ToList();
        Assert.Equal(new[] { 1, 2, 3, 4 }, dims.Select(d => d.Dimension));
        // Independent float64 computation from the encoder's output.
        var enc = model.Encode(Data);
        for (int d = 0; d < 4; d++)
        {
            double kl = 0, m = 0, m2 = 0;
            for (int i = 0; i < 30; i++)
            {
                double mu = enc.Mean[i, d], lv = enc.LogVariance[i, d];
                kl += 0.5 * (Math.Exp(lv) + mu * mu - 1 - lv);
                m += mu; m2 += mu * mu;
            }
            double variance = m2 / 30 - (m / 30) * (m / 30);
            Assert.Equal(kl / 30, dims[d].Kl, 5);
            Assert.Equal(variance, dims[d].MeanVariance, 6);
            Assert.Equal(variance > 1e-4 && kl / 30 >= 0.02, dims[d].Active);
            Assert.Equal(1e-4, dims[d].Threshold);
            Assert.Equal(0.02, dims[d].KlThreshold);
        }
        Assert.Equal(5, sink.Progress.Count(p => !p.Completed)); // 30 images in chunks of 7
        Assert.Contains(sink.Verbose, v => v.Contains("of 4 latent dimensions are active"));
    }

    [Fact]
    public void Latent_measure_of_a_decoder_only_model_is_InvalidOperation_and_Laplace_priors_warn()
    {
        var sink = new RecordingSink();
        var model = new VaeModel(Config with { DecoderOnly = true });
        new LatentLogic(new LatentParameters()).Process(sink, model, Data, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("DecoderOnlyModel", ErrorKind.InvalidOperation), (e.ErrorId, e.Category));
        Assert.Same(model, e.Target);
        Assert.Contains("no encoder", e.Message);

        var laplace = new RecordingSink();
        new LatentLogic(new LatentParameters()).Process(laplace, new VaeModel(Config with { Prior = Prior.Laplace }), Data, CancellationToken.None);
        Assert.Contains("N(0, 1)", Assert.Single(laplace.Warnings));
        Assert.Equal(2, laplace.Output.Count);
    }

    [Fact]
    public void Latent_measure_stops_between_chunks_and_emits_nothing()
    {
        using var stop = new CancellationTokenSource();
        var sink = new RecordingSink { OnProgress = _ => stop.Cancel() };
        new LatentLogic(new LatentParameters { ChunkSize = 5 }).Process(sink, new VaeModel(Config), Data, stop.Token);
        Assert.Empty(sink.Output);
        Assert.Equal(2, sink.Progress.Count); // one chunk, then the closing report
    }

    // ---- Export-VaePlot ----

    private RecordingSink Plot(string kind, string file, VaeModel? model, IDataset? data = null, Action<PlotParameters>? more = null, bool confirm = true)
    {
        var p = new PlotParameters { Kind = kind, Path = Path.Combine(_dir, file), Data = data, Seed = 1, PassThru = true };
        more?.Invoke(p);
        var sink = new RecordingSink { Confirm = confirm };
        new PlotLogic(p).Process(sink, model, CancellationToken.None);
        return sink;
    }

    private static XDocument Svg(string path)
    {
        var doc = XDocument.Load(path);
        Assert.Equal("svg", doc.Root!.Name.LocalName);
        return doc;
    }

    private static int CountClass(XDocument doc, string element, string cls) =>
        doc.Descendants().Count(e => e.Name.LocalName == element && ((string?)e.Attribute("class"))?.Split(' ').Contains(cls) == true);

    [Fact]
    public void Latent_plot_has_a_point_per_image()
    {
        var sink = Plot("Latent", "latent.svg", Trained.Value, Data);
        Assert.Empty(sink.Errors);
        Assert.Equal(Path.Combine(_dir, "latent.svg"), sink.Single<FileInfo>().FullName);
        Assert.Equal(30, CountClass(Svg(Path.Combine(_dir, "latent.svg")), "circle", "point"));
        Assert.Equal(12, CountClass(Svg(Path.Combine(_dir, Plot("latent", "some.svg", Trained.Value, Data, p => p.Count = 12).Single<FileInfo>().Name)), "circle", "point"));
    }

    [Fact]
    public void Latent_plot_with_TrainData_draws_train_and_test_side_by_side_with_one_legend()
    {
        var train = new TensorDataset(Data.ToTensor(), Enumerable.Range(0, 30).Select(i => i % 10).ToArray(), "train part");
        var sink = Plot("Latent", "both.svg", Trained.Value, Data, p => { p.TrainData = train; p.Count = 20; });
        Assert.Empty(sink.Errors);
        var doc = Svg(Path.Combine(_dir, "both.svg"));
        Assert.Equal(2, CountClass(doc, "g", "panel"));
        Assert.Equal(40, CountClass(doc, "circle", "point"));
        Assert.Equal(10, CountClass(doc, "circle", "legend-swatch")); // one legend for both panels
        var titles = doc.Descendants().Where(e => (string?)e.Attribute("class") == "title").Select(e => e.Value).ToList();
        Assert.Contains("Train (20)", titles);
        Assert.Contains("Test (20)", titles);
        Assert.Empty(Plot("Latent", "both.png", Trained.Value, Data, p => p.TrainData = train).Errors);
        Assert.Equal(800, PngDecoder.ReadFile(Path.Combine(_dir, "both.png")).Width);

        var wrongKind = Plot("Samples", "x.png", Trained.Value, null, p => p.TrainData = train);
        Assert.Equal("TrainDataNotUsed", Assert.Single(wrongKind.Errors).ErrorId);
    }

    [Fact]
    public void Samples_plot_is_the_picture_New_VaeSample_writes_for_the_same_seed()
    {
        foreach (bool pixels in new[] { false, true })
        {
            string plot = Path.Combine(_dir, $"plot-{pixels}.png"), sample = Path.Combine(_dir, $"sample-{pixels}.png");
            Assert.Empty(Plot("Samples", Path.GetFileName(plot), Trained.Value, null, p => { p.Count = 30; p.Seed = 8; p.SamplePixels = pixels; }).Errors);
            new SampleLogic(new SampleParameters { Count = 30, Seed = 8, SamplePixels = pixels, OutFile = sample }).Process(new RecordingSink(), Trained.Value);
            Assert.Equal(File.ReadAllBytes(sample), File.ReadAllBytes(plot));
        }
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(_dir, "plot-False.png")), File.ReadAllBytes(Path.Combine(_dir, "plot-True.png")));
    }

    [Fact]
    public void Pictures_carry_label_titles_a_heading_and_can_be_black_on_white()
    {
        string Path_(string f) => Path.Combine(_dir, f);
        Assert.Empty(Plot("Reconstruction", "plain.png", Trained.Value, Data, p => p.Count = 6).Errors);
        Assert.Empty(Plot("Reconstruction", "titled.png", Trained.Value, Data, p => { p.Count = 6; p.ShowLabels = true; p.Title = "Reconstructions"; }).Errors);
        var plain = PngDecoder.ReadFile(Path_("plain.png"));
        var titled = PngDecoder.ReadFile(Path_("titled.png"));
        // Twice the size (so "Label: 7" fits over a pair), a heading band and one title band per row of pairs.
        var geometry = GridGeometry.ForPairs(6, 28, 28, new GridOptions { Columns = 10, Scale = GridPicture.TitledScale });
        Assert.Equal(geometry.Padding + 6 * (geometry.CellWidth + geometry.Padding), titled.Width);
        Assert.Equal(geometry.Padding + geometry.CellHeight + geometry.Padding + 2 * GridAnnotation.BandHeight(1), titled.Height);
        // The first original, below its title: pixel (r, c) of the digit is the 2 x 2 block at (2r, 2c).
        int top = GridAnnotation.BandHeight(1) + 2 + GridAnnotation.BandHeight(1);
        for (int r = 0; r < 28; r += 9)
            for (int c = 0; c < 28; c += 9)
                Assert.Equal(plain[2 + r, 2 + c], titled[top + 2 * r + 1, 2 + 2 * c + 1]);

        Assert.Empty(Plot("Data", "white.png", null, Data, p => { p.Count = 4; p.Invert = true; }).Errors);
        Assert.Empty(Plot("Data", "black.png", null, Data, p => { p.Count = 4; }).Errors);
        var white = PngDecoder.ReadFile(Path_("white.png"));
        var black = PngDecoder.ReadFile(Path_("black.png"));
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                Assert.InRange(white[2 + r, 2 + c] - (255 - black[2 + r, 2 + c]), -1, 1); // 1 - v rounds to the byte next to 255 - b at most

        // New-VaeSample -OutFile with a heading is still Export-VaePlot Samples' picture.
        Assert.Empty(Plot("Samples", "headed-plot.png", Trained.Value, null, p => { p.Count = 20; p.Seed = 3; p.Title = "Samples"; p.Invert = true; }).Errors);
        new SampleLogic(new SampleParameters { Count = 20, Seed = 3, Title = "Samples", Invert = true, OutFile = Path_("headed-sample.png") }).Process(new RecordingSink(), Trained.Value);
        Assert.Equal(File.ReadAllBytes(Path_("headed-sample.png")), File.ReadAllBytes(Path_("headed-plot.png")));
    }

    [Fact]
    public void Data_picture_tiles_the_images_themselves_without_a_model()
    {
        var sink = Plot("Data", "digits.png", null, Data, p => { p.Count = 12; p.Columns = 4; });
        Assert.Empty(sink.Errors);
        var png = PngDecoder.ReadFile(Path.Combine(_dir, "digits.png"));
        var images = new float[12 * 784];
        Data.CopyRows(Enumerable.Range(0, 12).ToArray(), images, null);
        var expected = ImageGrid.Tile(images, 28, 28, new GridOptions { Columns = 4 });
        Assert.Equal((expected.Width, expected.Height), (png.Width, png.Height));
        Assert.Equal(expected.Pixels, png.Pixels);

        var none = Plot("Data", "none.png", null, null);
        Assert.Equal(("MissingData", ErrorKind.InvalidArgument), (Assert.Single(none.Errors).ErrorId, none.Errors[0].Category));
        var noModel = Plot("Samples", "none.png", null, Data);
        Assert.Equal("MissingModel", Assert.Single(noModel.Errors).ErrorId);
        Assert.Contains("only -Kind Data", noModel.Errors[0].Message);
    }

    [Fact]
    public void Per_batch_learning_curve_draws_the_records_by_step_and_the_test_loss_per_epoch()
    {
        var model = new VaeModel(Config);
        var none = Plot("LearningCurve", "none.svg", model, null, p => p.PerBatch = true);
        Assert.Equal(("NoBatchHistory", ErrorKind.InvalidOperation), (Assert.Single(none.Errors).ErrorId, none.Errors[0].Category));
        Assert.Contains("-LogInterval", none.Errors[0].Message);

        new TrainingLogic(new TrainingParameters { Epochs = 3, BatchSize = 5, LogInterval = 2, ValidationData = Data, ThrottleLimit = 1, Seed = 1, HandleSignals = false })
            .Process(new RecordingSink(), model, Data, CancellationToken.None);
        Assert.Equal(9, model.BatchHistory.Count); // 6 batches an epoch: records at 2, 4, 6
        var sink = Plot("LearningCurve", "steps.svg", model, null, p => p.PerBatch = true);
        Assert.Empty(sink.Errors);
        var doc = Svg(Path.Combine(_dir, "steps.svg"));
        Assert.Equal(2, CountClass(doc, "polyline", "line"));
        Assert.Equal(9 + 3, CountClass(doc, "circle", "marker") + CountClass(doc, "rect", "marker")); // one per record and per epoch's test loss
        Assert.Equal("PerBatchNotUsed", Assert.Single(Plot("Samples", "x.png", model, null, p => p.PerBatch = true).Errors).ErrorId);
    }

    [Fact]
    public void Learning_curve_needs_a_history_and_draws_train_and_test_lines()
    {
        var untrained = Plot("LearningCurve", "none.svg", new VaeModel(Config));
        var e = Assert.Single(untrained.Errors);
        Assert.Equal(("ModelNotTrained", ErrorKind.InvalidOperation), (e.ErrorId, e.Category));
        Assert.False(File.Exists(Path.Combine(_dir, "none.svg")));

        var model = new VaeModel(Config);
        new TrainingLogic(new TrainingParameters { Epochs = 3, BatchSize = 10, ValidationData = Data, ThrottleLimit = 1, Seed = 1 })
            .Process(new RecordingSink(), model, Data, CancellationToken.None);
        var sink = Plot("LearningCurve", "curve.svg", model);
        Assert.Empty(sink.Errors);
        var doc = Svg(Path.Combine(_dir, "curve.svg"));
        Assert.Equal(2, CountClass(doc, "polyline", "line"));
        Assert.Equal(6, doc.Descendants().Count(x => ((string?)x.Attribute("class"))?.Split(' ').Contains("marker") == true));
        Assert.Empty(Plot("LearningCurve", "curve.png", model).Errors);
        Assert.Equal((800, 600), (PngDecoder.ReadFile(Path.Combine(_dir, "curve.png")).Width, PngDecoder.ReadFile(Path.Combine(_dir, "curve.png")).Height));
    }

    [Fact]
    public void Reconstruction_error_plot_has_a_bar_and_error_bar_per_label()
    {
        var sink = Plot("ReconstructionError", "errors.svg", Trained.Value, Data);
        Assert.Empty(sink.Errors);
        var doc = Svg(Path.Combine(_dir, "errors.svg"));
        Assert.Equal(10, CountClass(doc, "rect", "bar"));
        Assert.Equal(10 + 1, CountClass(doc, "g", "error-bar")); // one per bar and the legend's symbol
        Assert.True(sink.Progress.Last().Completed);

        // Unlabelled data: one bar for all images.
        var unlabelled = new TensorDataset(Data.ToTensor());
        Assert.Empty(Plot("ReconstructionError", "one.svg", Trained.Value, unlabelled).Errors);
        Assert.Equal(1, CountClass(Svg(Path.Combine(_dir, "one.svg")), "rect", "bar"));
    }

    [Fact]
    public void Reconstruction_picture_shows_each_image_above_its_reconstruction()
    {
        var model = Trained.Value;
        var sink = Plot("Reconstruction", "pairs.png", model, Data, p => { p.Count = 4; p.Columns = 2; });
        Assert.Empty(sink.Errors);
        var png = PngDecoder.ReadFile(Path.Combine(_dir, "pairs.png"));
        // 2 columns x 2 rows of pairs, each 28 wide and 28 + 1 + 28 high, padding 2.
        Assert.Equal((2 * 28 + 3 * 2, 2 * 57 + 3 * 2), (png.Width, png.Height));
        // Pair 1 (grid row 0, column 1): original pixel (10, 10) at output (2 + 10, 2 + 30 + 10); reconstruction 29 rows lower.
        var x = Data.ToTensor();
        var recon = model.Decode(model.Encode(Data).Mean);
        Assert.Equal((byte)Math.Round(x[1, 10 * 28 + 10] * 255), png[2 + 10, 2 + 30 + 10]);
        Assert.Equal((byte)Math.Round(Math.Clamp(recon[1, 10 * 28 + 10], 0, 1) * 255), png[2 + 29 + 10, 2 + 30 + 10]);
    }

    [Fact]
    public void Sample_pictures_as_SVG_hold_the_PNG_tiles()
    {
        var sink = Plot("Samples", "samples.svg", Trained.Value, null, p => { p.Count = 12; p.Columns = 4; });
        Assert.Empty(sink.Errors);
        var doc = Svg(Path.Combine(_dir, "samples.svg"));
        var href = (string)doc.Descendants().Single(e => e.Name.LocalName == "image").Attribute("href")!;
        Assert.StartsWith("data:image/png;base64,", href);
        var png = PngDecoder.Decode(Convert.FromBase64String(href["data:image/png;base64,".Length..]));
        Assert.Equal((4 * 28 + 5 * 2, 3 * 28 + 4 * 2), (png.Width, png.Height));
    }

    [Fact]
    public void WhatIf_and_NoClobber_write_nothing_and_compute_nothing()
    {
        var whatIf = Plot("ReconstructionError", "w.svg", Trained.Value, Data, confirm: false);
        Assert.False(File.Exists(Path.Combine(_dir, "w.svg")));
        Assert.Empty(whatIf.Progress);
        Assert.Empty(whatIf.Output);
        Assert.Single(whatIf.ShouldProcessCalls);

        File.WriteAllText(Path.Combine(_dir, "kept.png"), "keep me");
        var clobber = Plot("Samples", "kept.png", Trained.Value, null, p => p.NoClobber = true);
        Assert.Equal(("PlotFileExists", ErrorKind.ResourceExists), (Assert.Single(clobber.Errors).ErrorId, clobber.Errors[0].Category));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(_dir, "kept.png")));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp", SearchOption.AllDirectories).Concat(Directory.GetFiles(_dir, ".*")));
    }

    [Theory]
    [InlineData("Latent", "x.jpg", "UnsupportedPlotFormat", ErrorKind.InvalidArgument, ".svg or .png")]
    [InlineData("Latent", "x.svg", "MissingData", ErrorKind.InvalidArgument, "-Data")]
    [InlineData("Reconstruction", "x.png", "DecoderOnlyModel", ErrorKind.InvalidOperation, "decoder-only")]
    [InlineData("Samples", "missing/x.png", "PlotFolderNotFound", ErrorKind.ObjectNotFound, "missing")]
    [InlineData("Histogram", "x.png", "InvalidParameterValue", ErrorKind.InvalidArgument, "LearningCurve")]
    public void Plot_errors_say_what_is_wrong(string kind, string file, string id, ErrorKind category, string text)
    {
        var model = id == "DecoderOnlyModel" ? new VaeModel(Config with { DecoderOnly = true }) : Trained.Value;
        var data = id == "MissingData" ? null : Data;
        var sink = Plot(kind, file, model, data);
        var e = Assert.Single(sink.Errors);
        Assert.Equal((id, category), (e.ErrorId, e.Category));
        Assert.Contains(text, e.Message);
        Assert.Empty(sink.Output);
    }

    /// <summary>Element-wise float comparison within an absolute tolerance.</summary>
    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
