using System.Management.Automation;
using VaeTools.Model;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>Export-Vae: writes a model (weights, configuration, history) to a safetensors file, atomically.</summary>
[Cmdlet(VerbsData.Export, "Vae", SupportsShouldProcess = true, DefaultParameterSetName = "Path", HelpUri = HelpUri)]
[OutputType(typeof(FileInfo))]
public sealed class ExportVaeCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(VaeModel))]
    public VaeModel? Model { get; set; }

    /// <summary>The file to write; wildcards must match exactly one existing file.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The file to write, taken as it is (no wildcards).</summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = "";

    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private const string PathSet = "Path", LiteralPathSet = "LiteralPath";

    protected override void ProcessRecord() => Run(() =>
    {
        bool literal = ParameterSetName == LiteralPathSet;
        string path = ResolveOutputPath(literal ? LiteralPath : Path, literal, literal ? nameof(LiteralPath) : nameof(Path));
        ModelFileLogic.Export(this, Model, path, NoClobber, PassThru);
    });
}

/// <summary>Import-Vae: reads a model file written by Export-Vae (or a training checkpoint).</summary>
[Cmdlet(VerbsData.Import, "Vae", DefaultParameterSetName = "Path", HelpUri = HelpUri)]
[OutputType(typeof(VaeModel))]
public sealed class ImportVaeCommand : VaeCmdlet
{
    /// <summary>Model files; wildcards resolve to every matching file (one model each).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Path")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>Model files taken as they are (no wildcards); Get-ChildItem's output binds here by its PSPath (FullName too).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = Array.Empty<string>();

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
        bool literal = ParameterSetName == "LiteralPath";
        foreach (var p in literal ? LiteralPath : Path)
            foreach (var file in ResolveInputPaths(p, literal, literal ? nameof(LiteralPath) : nameof(Path)))
                ModelFileLogic.Import(this, file, IsBound(nameof(Engine)) ? Engine : null, Device);
    });
}

/// <summary>ConvertTo-Vae: a copy of a model on another engine or device (weights and history kept exactly).</summary>
[Cmdlet(VerbsData.ConvertTo, "Vae", HelpUri = HelpUri)]
[OutputType(typeof(VaeModel))]
public sealed class ConvertToVaeCommand : VaeCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [DeserializedVaeObject(typeof(VaeModel))]
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
