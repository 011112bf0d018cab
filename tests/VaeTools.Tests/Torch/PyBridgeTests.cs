using VaeTools.IO;
using TorchSharp;
using TorchSharp.PyBridge;
using VaeTools.Model;
using VaeTools.Torch;

namespace VaeTools.Tests.Torch;

/// <summary>
/// The model file against an independent safetensors implementation, TorchSharp.PyBridge 1.4.4: it loads our file
/// into the Torch module (strict: every name and shape must match), and a file it writes from the module is read by our
/// reader with the same names, shapes and values.
/// </summary>
public class PyBridgeTests
{
    private static VaeConfig Config => new() { InputDim = 30, HiddenDims = new[] { 12, 7 }, LatentDim = 3, Likelihood = Likelihood.GaussianSharedVariance, Seed = 8 };

    [Fact]
    public void PyBridge_loads_our_model_file_into_the_module()
    {
        var model = new VaeModel(Config);
        model.GetParameter("decoder.logvar").Value.Span[0] = -0.75f; // not the initial 0
        var path = Path.Combine(Path.GetTempPath(), $"vaetools-pybridge-{Guid.NewGuid():N}.safetensors");
        var other = new VaeModel(Config with { Seed = 99 }); // different weights, to be overwritten
        var backend = TorchBackend.Attach(other);
        try
        {
            ModelFile.Save(model, path);
            backend.Module.load_safetensors(path, strict: true);
            foreach (var p in model.Parameters)
                Assert.Equal(model.ReadParameter(p.Name).ToArray(), backend.Module.GetParameter(p.Name).contiguous().data<float>().ToArray());
        }
        finally
        {
            TorchBackend.Detach(other);
            File.Delete(path);
        }
    }

    [Fact]
    public void A_file_written_by_PyBridge_is_read_by_our_reader()
    {
        var model = new VaeModel(Config);
        var backend = TorchBackend.Attach(model);
        var path = Path.Combine(Path.GetTempPath(), $"vaetools-pybridge-{Guid.NewGuid():N}.safetensors");
        try
        {
            backend.Module.save_safetensors(path);
            var content = SafeTensorsFile.Read(path);
            Assert.Equal(model.Parameters.Select(p => p.Name).OrderBy(n => n), content.Tensors.Select(t => t.Name).OrderBy(n => n));
            foreach (var p in model.Parameters)
            {
                Assert.True(content.TryGet(p.Name, out var t));
                var (rows, cols) = model.FileShape(p.Name);
                Assert.Equal(rows * cols, t!.Data.Length);
                Assert.Equal(model.ReadParameter(p.Name).ToArray(), t.Data);
            }
            // Without VaeTools' metadata it is not a model file, and Import-Vae says so.
            var e = Assert.Throws<ModelFileException>(() => ModelFile.Load(path));
            Assert.Contains("not a VaeTools model", e.Message);
        }
        finally
        {
            TorchBackend.Detach(model);
            File.Delete(path);
        }
    }
}
