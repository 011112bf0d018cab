using System.Management.Automation;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Export-Vae: writes a model (weights, configuration, history) to a safetensors file, atomically.</summary>
[Cmdlet(VerbsData.Export, "Vae", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportVaeCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public VaeModel? Model { get; set; }

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() => Run(() => ModelFileLogic.Export(this, Model, ResolvePath(Path), NoClobber, PassThru));
}

/// <summary>Import-Vae: reads a model file written by Export-Vae (or a training checkpoint).</summary>
[Cmdlet(VerbsData.Import, "Vae")]
[OutputType(typeof(VaeModel))]
public sealed class ImportVaeCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>The engine the model runs on: Managed (default) or Torch.</summary>
    [Parameter]
    [ValidateSet("Managed", "Torch")]
    public string Engine { get; set; } = "Managed";

    /// <summary>cpu (default), cuda or cuda:N; cuda implies -Engine Torch.</summary>
    [Parameter]
    [ValidatePattern("^(?i)(cpu|cuda|cuda:[0-9]+)$")]
    public string Device { get; set; } = "cpu";

    protected override void ProcessRecord() => Run(() =>
    {
        foreach (var p in Path) ModelFileLogic.Import(this, ResolvePath(p), IsBound(nameof(Engine)) ? Engine : null, Device);
    });
}

/// <summary>ConvertTo-Vae: a copy of a model on another engine or device (weights and history kept exactly).</summary>
[Cmdlet(VerbsData.ConvertTo, "Vae")]
[OutputType(typeof(VaeModel))]
public sealed class ConvertToVaeCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public VaeModel? Model { get; set; }

    /// <summary>Managed or Torch; omitted with -Device cuda: Torch.</summary>
    [Parameter(Position = 0)]
    [ValidateSet("Managed", "Torch")]
    public string Engine { get; set; } = "Managed";

    [Parameter]
    [ValidatePattern("^(?i)(cpu|cuda|cuda:[0-9]+)$")]
    public string Device { get; set; } = "cpu";

    protected override void ProcessRecord() => Run(() =>
    {
        if (Model is null) return;
        string? engine = IsBound(nameof(Engine)) ? Engine : IsBound(nameof(Device)) ? null : Model.Engine;
        string device = IsBound(nameof(Device)) ? Device : engine == EngineLogic.Managed ? "cpu" : Model.Device;
        (engine, device) = EngineLogic.Resolve(engine, device);
        var copy = EngineLogic.Convert(Model, engine, device);
        WriteVerbose($"Converted to {copy}.");
        WriteObject(copy);
    });
}
