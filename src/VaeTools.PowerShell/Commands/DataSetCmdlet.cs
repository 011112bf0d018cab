using System.Management.Automation;

namespace VaeTools.PowerShell.Commands;

/// <summary>The parameters every data-set cmdlet takes, with the same names and meaning (Get-MnistData, Get-Cifar10Data).</summary>
public abstract class DataSetCmdlet : VaeCmdlet
{
    /// <summary>Train or Test.</summary>
    [Parameter(Position = 0)]
    [ValidateSet("Train", "Test")]
    public string Subset { get; set; } = "Train";

    /// <summary>Only these labels (0-9).</summary>
    [Parameter]
    [ValidateCount(1, 10)]
    [ValidateRange(0, 9)]
    public int[]? Classes { get; set; }

    /// <summary>At most this many images (the first ones, after -Classes).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Count { get; set; }

    /// <summary>Where the files are; null: $env:VAETOOLS_DATA, then the per-user cache.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Never download; a missing file is an error.</summary>
    [Parameter]
    public SwitchParameter NoDownload { get; set; }

    /// <summary>One image object per image instead of one data set.</summary>
    [Parameter]
    public SwitchParameter AsImage { get; set; }
}
