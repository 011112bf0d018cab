using TorchSharp;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell;
using VaeTools.PowerShell.Logic;
using VaeTools.Tests.Commands;
using VaeTools.Torch;
using static TorchSharp.torch;
using ManagedTensor = VaeTools.Engine.Tensor;
using Tensor = TorchSharp.torch.Tensor;

namespace VaeTools.Tests.Torch;

/// <summary>
/// Tensors down the pipeline (issue 12 item 3): -AsTensor on a Torch model emits a TorchSharp tensor computed by the module,
/// tensors of either kind are accepted as -Data (images) and -Latent (codes), bad shapes are clear errors, and tensors the
/// caller disposes leave no native tensor alive.
/// </summary>
[Collection(TensorPipelineCollection.Name)]
public class TensorPipelineTests
{
    private static TensorDataset Data(int n, int d, ulong seed)
    {
        var t = new ManagedTensor(n, d);
        new RandomSource(seed).FillUniform(t.Span, 0f, 1f);
        return new TensorDataset(t);
    }

    private static VaeModel TorchModel(VaeConfig config)
    {
        var model = new VaeModel(config);
        TorchBackend.Attach(model);
        return model;
    }

    private static VaeConfig Small => new() { InputDim = 12, HiddenDims = new[] { 7 }, LatentDim = 3, Seed = 8 };

    private static float[] Values(Tensor t)
    {
        using var cpu = t.detach().cpu().contiguous();
        using var acc = cpu.data<float>();
        return acc.ToArray();
    }

    [Fact]
    public void AsTensor_on_a_torch_model_emits_a_TorchSharp_tensor_computed_by_the_module()
    {
        var model = TorchModel(Small);
        try
        {
            var data = Data(9, 12, 1);
            var sink = new RecordingSink();
            var logic = new EncodingLogic(model, new EncodingParameters { AsTensor = true, Seed = 1, ChunkSize = 4 });
            logic.Begin(sink);
            logic.ProcessData(sink, data, CancellationToken.None);
            logic.End(sink);
            var t = Assert.IsAssignableFrom<Tensor>(Assert.Single(sink.Output));
            using (t)
            {
                Assert.Equal(new long[] { 9, 3 }, t.shape);
                Assert.Equal(DeviceType.CPU, t.device.type);
                Assert.Equal(ScalarType.Float32, t.dtype);
                // Computed by the module: perturb the module's weights only, and the codes follow the module, not the managed copy.
                var expected = model.Encode(data).Mean;
                var got = Values(t);
                for (int i = 0; i < got.Length; i++) Assert.Equal(expected.Span[i], got[i], 1e-5f);
            }
            using (no_grad())
            using (var scope = NewDisposeScope())
                ((TorchBackend)model.Backend!).Module.GetParameter("encoder.mean.bias").add_(1.0);
            var again = new RecordingSink();
            var logic2 = new EncodingLogic(model, new EncodingParameters { AsTensor = true, Seed = 1 });
            logic2.ProcessData(again, data, CancellationToken.None);
            using var shifted = (Tensor)again.Output.Single();
            var mean = model.Encode(data).Mean; // the managed copy did not move
            var s = Values(shifted);
            for (int i = 0; i < s.Length; i++) Assert.Equal(mean.Span[i] + 1f, s[i], 1e-5f);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void AsTensor_with_sample_draws_z_through_the_reparameterisation_seeded_and_around_the_mean()
    {
        var model = TorchModel(Small);
        try
        {
            var data = Data(400, 12, 2);
            Tensor Run(ulong seed)
            {
                var sink = new RecordingSink();
                new EncodingLogic(model, new EncodingParameters { AsTensor = true, Sample = true, Seed = seed }).ProcessData(sink, data, CancellationToken.None);
                return (Tensor)sink.Output.Single();
            }
            using var a = Run(3);
            using var b = Run(3);
            using var c = Run(4);
            Assert.Equal(Values(a), Values(b));
            Assert.NotEqual(Values(a), Values(c));
            // (z - mu) / sigma should be standard normal: mean ~ 0, variance ~ 1 over 1200 values.
            var enc = model.Encode(data);
            var z = Values(a);
            double sum = 0, sq = 0;
            for (int i = 0; i < z.Length; i++)
            {
                double u = (z[i] - enc.Mean.Span[i]) / Math.Exp(0.5 * enc.LogVariance.Span[i]);
                sum += u; sq += u * u;
            }
            double m = sum / z.Length, v = sq / z.Length - m * m;
            Assert.InRange(m, -0.12, 0.12); // 4 standard errors
            Assert.InRange(v, 0.85, 1.15);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Sampled_codes_are_the_same_on_both_engines_for_the_same_seed()
    {
        // Both engines draw z = mu + sigma eps by VaeMath.Reparameterize, eps from the same random source in the same order.
        var model = TorchModel(Small);
        try
        {
            var data = Data(50, 12, 5);
            var managed = model.SampleLatent(model.Encode(data), new RandomSource(11));
            using var torchCodes = TorchInference.Encode(model, data, sample: true, new RandomSource(11));
            var fromTorch = Values(torchCodes);
            Assert.Equal(managed.Span.Length, fromTorch.Length);
            for (int i = 0; i < fromTorch.Length; i++)
                Assert.True(Math.Abs(fromTorch[i] - managed.Span[i]) <= 1e-5 * (1 + Math.Abs(managed.Span[i])), $"code value {i}: Torch {fromTorch[i]}, managed {managed.Span[i]}");
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Piped_images_with_AsTensor_on_a_torch_model_give_one_torch_tensor_at_the_end()
    {
        var model = TorchModel(Small);
        try
        {
            var data = Data(3, 12, 5);
            var sink = new RecordingSink();
            var logic = new EncodingLogic(model, new EncodingParameters { AsTensor = true });
            logic.Begin(sink);
            for (int i = 0; i < 3; i++) logic.ProcessImage(sink, ImageRecord.FromDataset(data, i, null));
            Assert.Empty(sink.Output);
            logic.End(sink);
            using var t = (Tensor)sink.Output.Single();
            Assert.Equal(new long[] { 3, 3 }, t.shape);
            var expected = model.Encode(data).Mean;
            var got = Values(t);
            for (int i = 0; i < got.Length; i++) Assert.Equal(expected.Span[i], got[i], 1e-5f);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Encoded_tensor_piped_to_new_vae_sample_decodes_the_reconstructions_on_both_engines()
    {
        var model = TorchModel(Small);
        var managed = model.Clone();
        try
        {
            var data = Data(5, 12, 6);
            var expected = managed.Decode(managed.Encode(data).Mean); // decode(mu(x)), [5 x 12]

            var enc = new RecordingSink();
            new EncodingLogic(model, new EncodingParameters { AsTensor = true }).ProcessData(enc, data, CancellationToken.None);
            using var codes = (Tensor)enc.Output.Single();

            // Torch model, -AsTensor: a TorchSharp tensor from the module.
            var sink = new RecordingSink();
            new SampleLogic(new SampleParameters { AsTensor = true, Seed = 1, Latent = TensorInput.ToLatent(codes, "Latent") }).Process(sink, model);
            Assert.Empty(sink.Errors);
            using (var images = Assert.IsAssignableFrom<Tensor>(Assert.Single(sink.Output)))
            {
                Assert.Equal(new long[] { 5, 12 }, images.shape);
                var got = Values(images);
                for (int i = 0; i < got.Length; i++) Assert.Equal(expected.Span[i], got[i], 1e-5f);
            }

            // Torch model, objects: one image per code.
            sink = new RecordingSink();
            new SampleLogic(new SampleParameters { Seed = 1, Latent = TensorInput.ToLatent(codes, "Latent") }).Process(sink, model);
            var records = sink.Output.Cast<ImageRecord>().ToList();
            Assert.Equal(5, records.Count);
            for (int i = 0; i < 5; i++) for (int j = 0; j < 12; j++) Assert.Equal(expected[i, j], records[i].Pixels[j], 1e-5f);

            // Managed model given the TorchSharp tensor: the managed engine's tensor.
            sink = new RecordingSink();
            new SampleLogic(new SampleParameters { AsTensor = true, Seed = 1, Latent = TensorInput.ToLatent(codes, "Latent") }).Process(sink, managed);
            var m = Assert.IsType<ManagedTensor>(Assert.Single(sink.Output));
            for (int i = 0; i < m.Length; i++) Assert.Equal(expected.Span[i], m.Span[i], 1e-5f);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Code_objects_as_latent_keep_their_images_index_and_label()
    {
        var model = new VaeModel(Small);
        var codes = new object[]
        {
            new LatentCode(7, 3, new float[3], new float[3], new[] { 0.1f, 0.2f, 0.3f }),
            new LatentCode(9, null, new float[3], new float[3], new[] { -1f, 0f, 1f }),
        };
        var sink = new RecordingSink();
        new SampleLogic(new SampleParameters { Latent = TensorInput.ToLatent(codes, "Latent") }).Process(sink, model);
        var images = sink.Output.Cast<ImageRecord>().ToList();
        Assert.Equal(new[] { 7, 9 }, images.Select(i => i.Index));
        Assert.Equal(new int?[] { 3, null }, images.Select(i => i.Label));
        var expected = model.Decode(new ManagedTensor(2, 3, new[] { 0.1f, 0.2f, 0.3f, -1f, 0f, 1f }));
        Assert.Equal(expected.Row(1).ToArray(), images[1].Pixels);
    }

    [Fact]
    public void New_vae_sample_AsTensor_on_a_torch_model_decodes_prior_samples_on_the_module()
    {
        var model = TorchModel(Small);
        try
        {
            var sink = new RecordingSink();
            new SampleLogic(new SampleParameters { Count = 6, Seed = 2, AsTensor = true }).Process(sink, model);
            using var t = Assert.IsAssignableFrom<Tensor>(Assert.Single(sink.Output));
            var expected = model.Sample(6, 1f, new RandomSource(2)); // the same prior draws, decoded by the managed copy
            var got = Values(t);
            for (int i = 0; i < got.Length; i++) Assert.Equal(expected.Span[i], got[i], 1e-5f);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Sample_pixels_on_the_module_draws_the_same_pixels_as_the_managed_engine()
    {
        var model = TorchModel(Small);
        try
        {
            var sink = new RecordingSink();
            new SampleLogic(new SampleParameters { Count = 20, Seed = 3, AsTensor = true, SamplePixels = true }).Process(sink, model);
            using var t = (Tensor)sink.Output.Single();
            var expected = model.Sample(20, 1f, new RandomSource(3), samplePixels: true);
            var got = Values(t);
            Assert.All(got, v => Assert.True(v is 0f or 1f));
            int differ = got.Where((v, i) => v != expected.Span[i]).Count(); // the same uniforms; a pixel can flip only where p is within float rounding of u
            Assert.True(differ <= 1, $"{differ} of {got.Length} pixels differ.");
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Image_tensors_of_either_kind_become_data_sets_that_measure_like_the_data()
    {
        var data = Data(6, 12, 7);
        using var torchImages = tensor(data.Data.Span.ToArray(), new long[] { 6, 12 }, dtype: float64); // float64 is converted
        var fromTorch = TensorInput.ToDataset(torchImages, "Data")!;
        var fromManaged = TensorInput.ToDataset(data.Data, "Data")!;
        Assert.Equal(data.Data.Span.ToArray(), ((TensorDataset)fromTorch).Data.Span.ToArray());
        Assert.Contains("-Data tensor [6 x 12] Float64 on cpu (TorchSharp)", fromTorch.Description);
        Assert.Same(data.Data, ((TensorDataset)fromManaged).Data);
        Assert.Null(TensorInput.ToDataset("not a tensor", "Data"));

        var model = new VaeModel(Small);
        var a = new RecordingSink();
        new MeasureLogic(new MeasureParameters { Seed = 1 }).Process(a, model, data, CancellationToken.None);
        var b = new RecordingSink();
        new MeasureLogic(new MeasureParameters { Seed = 1 }).Process(b, model, fromTorch, CancellationToken.None);
        Assert.Equal(((VaeTools.Analysis.ReconstructionMetrics)a.Output.Single()).Elbo, ((VaeTools.Analysis.ReconstructionMetrics)b.Output.Single()).Elbo);
    }

    [Fact]
    public void Bad_tensors_are_errors_naming_the_parameter_and_the_shape_expected()
    {
        using var images4d = zeros(2, 1, 3, 4);
        var e = Assert.Throws<CommandException>(() => TensorInput.ToDataset(images4d, "Data"));
        Assert.Equal("InvalidTensorShape", e.Error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Category);
        Assert.Same(images4d, e.Error.Target);
        Assert.Contains("-Data is a tensor [2 x 1 x 3 x 4] Float32 on cpu with 4 dimension(s); expected a 2-D tensor [N x D]", e.Error.Exception.Message);
        Assert.Contains(".reshape(N, -1)", e.Error.Exception.Message);

        using var ints = zeros(new long[] { 2, 12 }, dtype: int64);
        e = Assert.Throws<CommandException>(() => TensorInput.ToDataset(ints, "Data"));
        Assert.Equal("InvalidTensorType", e.Error.ErrorId);
        Assert.Contains("expected floating-point values", e.Error.Exception.Message);

        using var nan = full(2, 12, double.NaN, dtype: float32);
        e = Assert.Throws<CommandException>(() => TensorInput.ToDataset(nan, "Data"));
        Assert.Equal("InvalidTensorData", e.Error.ErrorId);
        Assert.Contains("row 0, column 0", e.Error.Exception.Message);

        using var vector = zeros(3);
        e = Assert.Throws<CommandException>(() => TensorInput.ToLatent(vector, "Latent"));
        Assert.Contains("-Latent is a tensor [3] Float32 on cpu with 1 dimension(s); expected a 2-D tensor [N x P]", e.Error.Exception.Message);

        using var wide = zeros(4, 5);
        var codes = TensorInput.ToLatent(wide, "Latent")!;
        e = Assert.Throws<CommandException>(() => TensorInput.CheckCodes(codes, new VaeModel(Small), "Latent"));
        Assert.Equal("WidthMismatch", e.Error.ErrorId);
        Assert.Contains("-Latent tensor [4 x 5] Float32 on cpu (TorchSharp) holds codes of 5 values", e.Error.Exception.Message);
        Assert.Contains("expected [N x 3]", e.Error.Exception.Message);

        // Through SampleLogic the width error is non-terminating and nothing is emitted.
        var sink = new RecordingSink();
        new SampleLogic(new SampleParameters { Latent = codes }).Process(sink, new VaeModel(Small));
        Assert.Empty(sink.Output);
        Assert.Equal("WidthMismatch", Assert.Single(sink.Errors).ErrorId);
    }

    [Fact]
    public void A_torch_tensor_on_another_device_is_an_error_naming_both_devices()
    {
        TensorInput.CheckDevice("cpu", "cpu", "Latent");
        TensorInput.CheckDevice("cuda", "cuda:0", "Latent");
        var e = Assert.Throws<CommandException>(() => TensorInput.CheckDevice("cuda:1", "cpu", "Latent"));
        Assert.Equal("InvalidTensorDevice", e.Error.ErrorId);
        Assert.Contains("-Latent is a tensor on cuda:1, but the model runs on cpu", e.Error.Exception.Message);
        Assert.Contains(".to('cpu')", e.Error.Exception.Message);
    }

    [Fact]
    public void Repeated_AsTensor_encodings_disposed_by_the_caller_leave_no_tensor_alive()
    {
        var model = TorchModel(Small);
        try
        {
            var data = Data(50, 12, 9);
            void EncodeAndDispose()
            {
                var sink = new RecordingSink();
                new EncodingLogic(model, new EncodingParameters { AsTensor = true, Sample = true, Seed = 1, ChunkSize = 16 }).ProcessData(sink, data, CancellationToken.None);
                ((Tensor)sink.Output.Single()).Dispose();
                var s = new RecordingSink();
                using var z = TorchInference.FromManaged(model.Encode(data).Mean, "cpu");
                new SampleLogic(new SampleParameters { AsTensor = true, Seed = 1, SamplePixels = true, Latent = TensorInput.ToLatent(z, "Latent") }).Process(s, model);
                ((Tensor)s.Output.Single()).Dispose();
            }
            EncodeAndDispose(); // warm-up
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 20; i++)
            {
                EncodeAndDispose();
                Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            }
            // And a tensor that is kept is counted: the count is not blind.
            var keep = new RecordingSink();
            new EncodingLogic(model, new EncodingParameters { AsTensor = true }).ProcessData(keep, data, CancellationToken.None);
            Assert.Equal(before + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            ((Tensor)keep.Output.Single()).Dispose();
            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
        finally { TorchBackend.Detach(model); }
    }

    [Fact]
    public void Torch_training_keeps_the_live_tensor_count_constant_after_the_first_step()
    {
        var data = Data(300, 12, 10);
        var model = TorchModel(Small);
        try
        {
            using var trainer = new VaeTrainer(model, new TrainingOptions { Epochs = 3, BatchSize = 20, Threads = 1, Seed = 1 });
            var counts = new List<long>();
            trainer.Train(data, null, p => { if (p.CompletedEpoch is null) counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount); }, CancellationToken.None);
            Assert.Equal(45, counts.Count); // 15 steps an epoch, 3 epochs: one count after every step
            Assert.All(counts.Skip(1), c => Assert.Equal(counts[0], c));
        }
        finally { TorchBackend.Detach(model); }
    }
}

/// <summary>
/// Run alone, after the parallel tests: these tests train and encode on libtorch, and running beside
/// <see cref="TorchTrainingTests"/> would add their memory to the resident-memory growth that test measures.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TensorPipelineCollection
{
    public const string Name = "Torch tensors, alone";
}
