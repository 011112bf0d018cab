using System.Management.Automation;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Get-VaeEncoding: the latent code of every image of a data set or of piped image objects, streamed.</summary>
[Cmdlet(VerbsCommon.Get, "VaeEncoding", DefaultParameterSetName = DataSet, HelpUri = HelpUri)]
[OutputType(typeof(LatentCode), typeof(Tensor))]
[OutputType(TensorInput.TorchTensorTypeName)] // -AsTensor on a Torch model; named, so that the type (and TorchSharp) is not loaded
public sealed class GetVaeEncodingCommand : VaeCmdlet
{
    private const string DataSet = "Data", ImageSet = "Image";
    private EncodingLogic? _logic;

    [Parameter(Mandatory = true, Position = 0)]
    [DeserializedVaeObject(typeof(VaeModel))]
    public VaeModel? Model { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = DataSet)]
    [DeserializedVaeObject(typeof(IDataset), Tensors = nameof(Data))] // an image tensor [N x D] becomes a data set
    public IDataset? Data { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ImageSet)]
    [DeserializedVaeObject(typeof(ImageRecord))]
    public ImageRecord[]? Image { get; set; }

    [Parameter]
    public SwitchParameter AsTensor { get; set; }

    [Parameter]
    public SwitchParameter Sample { get; set; }

    [Parameter]
    public ulong Seed { get; set; }

    protected override void BeginProcessing() => Run(() =>
    {
        _logic = new EncodingLogic(Model!, new EncodingParameters { AsTensor = AsTensor, Sample = Sample, Seed = IsBound(nameof(Seed)) ? Seed : null });
        _logic.Begin(this);
    });

    protected override void ProcessRecord() => Run(() =>
    {
        if (Data is not null) _logic!.ProcessData(this, Data, StopToken);
        if (Image is not null) _logic!.ProcessImages(this, Image);
    });

    protected override void EndProcessing() => Run(() => _logic!.End(this));
}
