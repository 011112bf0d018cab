using VaeTools.Data;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;
using VaeTools.Tests.Commands;

namespace VaeTools.Tests.Torch;

/// <summary>-Engine and -Device of New-Vae, Import-Vae and ConvertTo-Vae, and training a Torch model through Invoke-VaeTraining's logic.</summary>
public class EngineLogicTests
{
    [Theory]
    [InlineData(null, null, "Managed", "cpu")]
    [InlineData("Torch", null, "Torch", "cpu")]
    [InlineData("torch", "CPU", "Torch", "cpu")]
    [InlineData(null, "cuda", "Torch", "cuda")]
    [InlineData(null, "cuda:1", "Torch", "cuda:1")]
    [InlineData("Managed", "cpu", "Managed", "cpu")]
    public void Resolve_chooses_the_engine_cuda_implies_torch(string? engine, string? device, string expectedEngine, string expectedDevice)
    {
        Assert.Equal((expectedEngine, expectedDevice), EngineLogic.Resolve(engine, device));
    }

    [Theory]
    [InlineData("Managed", "cuda", "DeviceNeedsTorch", "-Device cuda needs -Engine Torch")]
    [InlineData("Managed", "cuda:0", "DeviceNeedsTorch", "-Engine Torch")]
    [InlineData("Torch", "gpu", "InvalidDevice", "-Device 'gpu'")]
    [InlineData("Jax", "cpu", "InvalidEngine", "-Engine 'Jax'")]
    public void Resolve_rejects_bad_combinations(string engine, string device, string errorId, string message)
    {
        var e = Assert.Throws<CommandException>(() => EngineLogic.Resolve(engine, device));
        Assert.Equal(errorId, e.Error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Error.Category);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void New_vae_engine_torch_gives_a_torch_model_with_a_real_module()
    {
        var sink = new RecordingSink();
        new NewVaeLogic(new NewVaeParameters { LatentDim = 2, HiddenDim = new[] { 16 }, Engine = "Torch", Seed = 1 }).Process(sink, null);
        var model = Assert.IsType<VaeModel>(Assert.Single(sink.Output));
        Assert.Equal("Torch", model.Engine);
        Assert.Equal("cpu", model.Device);
        Assert.IsAssignableFrom<TorchSharp.torch.nn.Module>(model.Module);
        Assert.Contains("Torch engine on cpu", model.ToString());
        model.Backend!.Dispose();
    }

    [Fact]
    public void New_vae_device_cuda_without_cuda_is_a_terminating_error_saying_what_to_install()
    {
        if (VaeTools.Torch.TorchRuntime.CudaNativesPresent() && TorchSharp.torch.cuda.is_available()) return; // a CUDA machine
        var sink = new RecordingSink();
        var e = Assert.Throws<CommandException>(() => new NewVaeLogic(new NewVaeParameters { LatentDim = 2, HiddenDim = new[] { 16 }, Device = "cuda" }).Process(sink, null));
        Assert.Equal("TorchUnavailable", e.Error.ErrorId);
        Assert.Equal(ErrorKind.ResourceUnavailable, e.Error.Category);
        Assert.Contains("-Device cuda", e.Message);
        Assert.Contains("CUDA", e.Message);
        Assert.Empty(sink.Output); // no model on the CPU instead
    }

    [Fact]
    public void Convert_to_between_engines_keeps_weights_and_history_bitwise_and_leaves_the_original()
    {
        var model = new VaeModel(new VaeConfig { InputDim = 20, HiddenDims = new[] { 8 }, LatentDim = 2, Likelihood = Likelihood.GaussianSharedVariance, Seed = 2 });
        model.AppendHistory(new EpochRecord { Epoch = 1, TrainLoss = 12.5 });
        var torchCopy = EngineLogic.Convert(model, "Torch", "cpu");
        var back = EngineLogic.Convert(torchCopy, "Managed", "cpu");
        Assert.Equal("Managed", model.Engine);
        Assert.Equal("Torch", torchCopy.Engine);
        Assert.Equal("Managed", back.Engine);
        Assert.Null(back.Backend);
        foreach (var p in model.Parameters)
            Assert.Equal(model.ReadParameter(p.Name).ToArray(), back.ReadParameter(p.Name).ToArray());
        Assert.Equal(model.History, back.History);
        torchCopy.Backend!.Dispose();
    }

    [Fact]
    public void Invoke_vae_training_trains_a_torch_model_and_export_import_onto_torch()
    {
        var pixels = new VaeTools.Engine.Tensor(64, 20);
        new VaeTools.Engine.RandomSource(1).FillUniform(pixels.Span, 0f, 1f);
        var data = new TensorDataset(pixels);
        var model = EngineLogic.Convert(new VaeModel(new VaeConfig { InputDim = 20, HiddenDims = new[] { 8 }, LatentDim = 2, Seed = 2 }), "Torch", "cpu");
        var before = model.ReadParameter("decoder.output.weight").ToArray();
        var sink = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 16, ThrottleLimit = 1 }).Process(sink, model, data, default);
        Assert.Empty(sink.Errors);
        Assert.Same(model, Assert.Single(sink.Output));
        Assert.Equal(2, model.History.Count);
        Assert.NotEqual(before, model.ReadParameter("decoder.output.weight").ToArray());

        var path = Path.Combine(Path.GetTempPath(), $"vaetools-engine-{Guid.NewGuid():N}.safetensors");
        try
        {
            ModelFileLogic.Export(sink, model, path, noClobber: false, passThru: false);
            var import = new RecordingSink();
            ModelFileLogic.Import(import, path, "Torch", "cpu");
            var loaded = Assert.IsType<VaeModel>(Assert.Single(import.Output));
            Assert.Equal("Torch", loaded.Engine);
            Assert.Equal(model.ReadParameter("decoder.output.weight").ToArray(), loaded.ReadParameter("decoder.output.weight").ToArray());
            loaded.Backend!.Dispose();
        }
        finally { File.Delete(path); model.Backend!.Dispose(); }
    }
}
