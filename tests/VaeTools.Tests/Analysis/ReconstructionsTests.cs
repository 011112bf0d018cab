using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.Tests.Commands;

namespace VaeTools.Tests.Analysis;

public class ReconstructionsTests
{
    private static readonly VaeModel Model = new(new VaeConfig { InputDim = 784, HiddenDims = new[] { 16 }, LatentDim = 3, Seed = 2 });
    private static readonly MnistDataset Data = SyntheticMnist.Create(25);

    [Fact]
    public void Per_image_squared_errors_average_to_the_measured_mean_squared_error()
    {
        var errors = Reconstructions.SquaredErrors(Model, Data, chunk: 7);
        Assert.Equal(25, errors.Length);
        var measured = ReconstructionAnalysis.Measure(Model, Data)[0].MeanSquaredError;
        Assert.Equal(measured, errors.Average(), 3);
        Assert.All(errors, e => Assert.True(e > 0));
    }

    [Fact]
    public void Pairs_are_the_rows_asked_for_and_their_decoded_posterior_means()
    {
        var pairs = Reconstructions.Reconstruct(Model, Data, new[] { 4, 0 });
        var x = Data.ToTensor();
        Assert.Equal(x.Row(4).ToArray(), pairs.Originals.Row(0).ToArray());
        Assert.Equal(x.Row(0).ToArray(), pairs.Originals.Row(1).ToArray());
        var z = new Tensor(1, 3, Model.Encode(Data).Mean.Row(4).ToArray());
        Assert.Equal(Model.Decode(z).Row(0).ToArray(), pairs.Reconstructions.Row(0).ToArray());
    }

    [Fact]
    public void A_decoder_only_model_cannot_reconstruct()
    {
        var model = new VaeModel(Model.Config with { DecoderOnly = true });
        var e = Assert.Throws<InvalidOperationException>(() => Reconstructions.Reconstruct(model, Data, new[] { 0 }));
        Assert.Contains("decoder-only", e.Message);
    }

    [Fact]
    public void Cancellation_is_checked_between_chunks()
    {
        using var stop = new CancellationTokenSource();
        int reports = 0;
        Assert.Throws<OperationCanceledException>(() =>
            Reconstructions.SquaredErrors(Model, Data, chunk: 10, progress: (_, _) => { reports++; stop.Cancel(); }, cancellation: stop.Token));
        Assert.Equal(1, reports);
    }
}
