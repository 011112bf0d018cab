using VaeTools.IO;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.Model;

public class ModelTests
{
    [Fact]
    public void Architecture_mirrors_the_encoder_in_the_decoder_with_PyTorch_names()
    {
        var m = new VaeModel(new VaeConfig { HiddenDims = new[] { 512, 256 }, LatentDim = 2 });
        var shapes = m.Parameters.ToDictionary(p => p.Name, p => p.Value.Shape);
        Assert.Equal("[784 x 512]", shapes["encoder.hidden.0.weight"]); // input-major in memory (the file holds [512 x 784])
        Assert.True(m.EncoderHidden[0].InputMajor);
        Assert.Equal((784, 512), (m.EncoderHidden[0].In, m.EncoderHidden[0].Out));
        Assert.Equal("[256 x 512]", shapes["encoder.hidden.1.weight"]);
        Assert.Equal("[2 x 256]", shapes["encoder.mean.weight"]);
        Assert.Equal("[2 x 256]", shapes["encoder.logvar.weight"]);
        Assert.Equal("[256 x 2]", shapes["decoder.hidden.0.weight"]);
        Assert.Equal("[512 x 256]", shapes["decoder.hidden.1.weight"]);
        Assert.Equal("[512 x 784]", shapes["decoder.output.weight"]); // input-major too (the file holds [784 x 512])
        Assert.True(m.DecoderOutput.InputMajor);
        Assert.False(m.DecoderOutput.SkipZeroInputs);
        Assert.True(m.EncoderHidden[0].SkipZeroInputs);
        Assert.Equal("[1 x 784]", shapes["decoder.output.bias"]);
        long expected = 784 * 512 + 512 + 512 * 256 + 256 + 2 * (256 * 2 + 2) + 2 * 256 + 256 + 256 * 512 + 512 + 512 * 784 + 784;
        Assert.Equal(expected, m.ParameterCount);
    }

    [Fact]
    public void Bad_configuration_names_the_setting()
    {
        Assert.Contains("LatentDim", Assert.Throws<ArgumentException>(() => new VaeModel(new VaeConfig { LatentDim = 0 })).Message);
        Assert.Contains("HiddenDims[1]", Assert.Throws<ArgumentException>(() => new VaeModel(new VaeConfig { HiddenDims = new[] { 10, -1 } })).Message);
        Assert.Contains("Beta", Assert.Throws<ArgumentException>(() => new VaeModel(new VaeConfig { Beta = float.NaN })).Message);
    }

    [Fact]
    public void Same_seed_same_initial_weights_different_seed_different()
    {
        var a = new VaeModel(new VaeConfig { Seed = 5 });
        var b = new VaeModel(new VaeConfig { Seed = 5 });
        var c = new VaeModel(new VaeConfig { Seed = 6 });
        Assert.Equal(a.Parameters[0].Value.ToArray(), b.Parameters[0].Value.ToArray());
        Assert.NotEqual(a.Parameters[0].Value.ToArray(), c.Parameters[0].Value.ToArray());
    }

    [Fact]
    public void Encode_decode_sample_have_the_right_shapes_and_match_the_training_graph()
    {
        var model = new VaeModel(new VaeConfig { InputDim = 12, HiddenDims = new[] { 8 }, LatentDim = 3, Seed = 1 });
        var x = new Tensor(5, 12);
        new RandomSource(2).FillUniform(x.Span, 0f, 1f);
        var enc = model.Encode(x);
        Assert.Equal("[5 x 3]", enc.Mean.Shape);
        Assert.Equal("[5 x 3]", enc.LogVariance.Shape);

        // The same encoder, computed independently by hand from the weights: relu(x W1^T + b1) Wmu^T + bmu.
        var w1 = model.EncoderHidden[0].Weight.Value; var b1 = model.EncoderHidden[0].Bias.Value;
        var wm = model.EncoderMean!.Weight.Value; var bm = model.EncoderMean.Bias.Value;
        for (int r = 0; r < 5; r++)
        {
            var h = new double[8];
            for (int j = 0; j < 8; j++)
            {
                double s = b1[0, j];
                for (int k = 0; k < 12; k++) s += (double)x[r, k] * w1[k, j]; // w1 is input-major [in x out]
                h[j] = Math.Max(0, s);
            }
            for (int j = 0; j < 3; j++)
            {
                double s = bm[0, j];
                for (int k = 0; k < 8; k++) s += h[k] * wm[j, k];
                Assert.Equal(s, enc.Mean[r, j], 4);
            }
        }

        var images = model.Decode(enc.Mean);
        Assert.Equal("[5 x 12]", images.Shape);
        Assert.All(images.ToArray(), v => Assert.InRange(v, 0f, 1f)); // sigmoid of the logits

        var samples = model.Sample(7, 1f, new RandomSource(3), samplePixels: true);
        Assert.Equal("[7 x 12]", samples.Shape);
        Assert.All(samples.ToArray(), v => Assert.True(v == 0f || v == 1f));

        Assert.Throws<ShapeMismatchException>(() => model.Decode(new Tensor(2, 4)));
        Assert.Throws<ShapeMismatchException>(() => model.Encode(new Tensor(2, 11)));
    }

    [Fact]
    public void Sample_prior_has_the_temperature_as_standard_deviation()
    {
        var model = new VaeModel(new VaeConfig { LatentDim = 4 });
        var z = model.SamplePrior(20000, 0.5f, new RandomSource(9)).ToArray();
        double std = Math.Sqrt(z.Average(v => (double)v * v));
        Assert.InRange(std, 0.49, 0.51);
    }

    [Fact]
    public void Model_file_round_trips_weights_configuration_and_history()
    {
        var data = new TensorDataset(RandomData(64, 10), null, "random");
        var model = new VaeModel(new VaeConfig { InputDim = 10, HiddenDims = new[] { 6, 5 }, LatentDim = 2, Activation = Activation.Tanh, Seed = 4 });
        using (var t = new VaeTrainer(model, new TrainingOptions { Epochs = 2, BatchSize = 16 })) t.Train(data);
        var path = TempPath();
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            Assert.Equal(model.Config, loaded.Config);
            for (int i = 0; i < model.Parameters.Count; i++)
                Assert.Equal(model.Parameters[i].Value.ToArray(), loaded.Parameters[i].Value.ToArray());
            Assert.Equal(model.History, loaded.History);
            // Python and other readers see plain safetensors with PyTorch-style names.
            var raw = SafeTensorsFile.Read(path);
            Assert.Equal(new[] { 6, 10 }, raw["encoder.hidden.0.weight"].Shape); // PyTorch's [out x in]
            var w = model.EncoderHidden[0].Weight.Value; // [10 x 6] in memory
            Assert.Equal(w[3, 2], raw["encoder.hidden.0.weight"].Data[2 * 10 + 3]);
            Assert.Equal(ModelFile.FormatTag, raw.Metadata["format"]);
        }
        finally { File.Delete(path); }
    }

    public static IEnumerable<object[]> EveryObjectiveAndOption() => new[]
    {
        new object[] { "Elbo", new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2 }, new TrainingOptions { Epochs = 1, BatchSize = 16 } },
        new object[] { "Iwae K=3", new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2 }, new TrainingOptions { Epochs = 1, BatchSize = 16, Objective = Objective.Iwae, Samples = 3 } },
        new object[] { "Elbo K=3, warm-up", new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2, Beta = 2 }, new TrainingOptions { Epochs = 1, BatchSize = 16, Samples = 3, KlWarmupEpochs = 4 } },
        new object[] { "Laplace prior, Iwae", new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2, Prior = Prior.Laplace, LaplaceScale = 0.5f }, new TrainingOptions { Epochs = 1, BatchSize = 16, Objective = Objective.Iwae, Samples = 2 } },
        new object[] { "decoder-only", new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2, DecoderOnly = true, PriorSamples = 4, Likelihood = Likelihood.GaussianSharedVariance }, new TrainingOptions { Epochs = 1, BatchSize = 16 } },
        new object[] { "per-dimension variance, Sgd", new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2, Likelihood = Likelihood.GaussianPerDimensionVariance }, new TrainingOptions { Epochs = 1, BatchSize = 16, Optimizer = OptimizerKind.Sgd, LearningRate = 1e-2f } },
        new object[] { "unit variance, sigmoid mean, Adagrad", new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2, Likelihood = Likelihood.GaussianUnitVariance, SigmoidMean = true }, new TrainingOptions { Epochs = 1, BatchSize = 16, Optimizer = OptimizerKind.Adagrad, LearningRate = 1e-2f } },
    };

    [Theory]
    [MemberData(nameof(EveryObjectiveAndOption))]
    public void Model_file_round_trips_the_history_of_every_objective_and_option(string name, VaeConfig config, TrainingOptions options)
    {
        var data = new TensorDataset(RandomData(64, 10), null, "random");
        var model = new VaeModel(config);
        using (var t = new VaeTrainer(model, options)) t.Train(data, validation: data);
        var path = TempPath();
        try
        {
            ModelFile.Save(model, path);
            var loaded = ModelFile.Load(path);
            Assert.True(model.History.SequenceEqual(loaded.History), $"{name}: the history changed in the file");
            Assert.Equal(model.Parameters[0].Value.ToArray(), loaded.Parameters[0].Value.ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Model_file_keeps_non_finite_history_values()
    {
        var model = new VaeModel(new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2 });
        model.AppendHistory(new EpochRecord { Epoch = 1, TrainLoss = 3.5, TrainKl = double.NaN, TestKl = double.PositiveInfinity, TestLoss = double.NegativeInfinity });
        var path = TempPath();
        try
        {
            ModelFile.Save(model, path);
            var r = Assert.Single(ModelFile.Load(path).History);
            Assert.True(double.IsNaN(r.TrainKl));
            Assert.Equal(double.PositiveInfinity, r.TestKl);
            Assert.Equal(double.NegativeInfinity, r.TestLoss);
            Assert.Equal(3.5, r.TrainLoss);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Model_file_rejects_foreign_truncated_and_mismatched_files()
    {
        var path = TempPath();
        try
        {
            // A valid safetensors file from "another program".
            SafeTensorsFile.Write(path, new[] { new SafeTensor("w", new[] { 2 }, new[] { 1f, 2f }) });
            var e = Assert.Throws<ModelFileException>(() => ModelFile.Load(path));
            Assert.Contains(path, e.Message);
            Assert.Contains("not a VaeTools model", e.Message);

            // A real model file cut short.
            var model = new VaeModel(new VaeConfig { InputDim = 10, HiddenDims = new[] { 6 }, LatentDim = 2 });
            ModelFile.Save(model, path);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]);
            Assert.Contains(path, Assert.Throws<ModelFileException>(() => ModelFile.Load(path)).Message);

            // Not a safetensors file at all.
            File.WriteAllText(path, "hello, world");
            Assert.Contains("not a safetensors file", Assert.Throws<ModelFileException>(() => ModelFile.Load(path)).Message);

            Assert.Throws<FileNotFoundException>(() => ModelFile.Load(path + ".missing"));
        }
        finally { File.Delete(path); }
    }

    private static string TempPath() => Path.Combine(Path.GetTempPath(), $"vaetools-test-{Guid.NewGuid():N}.safetensors");

    private static Tensor RandomData(int n, int d)
    {
        var t = new Tensor(n, d);
        new RandomSource(8).FillUniform(t.Span, 0f, 1f);
        return t;
    }
}
