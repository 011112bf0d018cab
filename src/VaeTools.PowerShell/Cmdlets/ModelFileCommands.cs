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

    protected override void ProcessRecord() => Run(() =>
    {
        foreach (var p in Path) ModelFileLogic.Import(this, ResolvePath(p));
    });
}
