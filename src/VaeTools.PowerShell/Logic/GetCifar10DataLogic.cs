using VaeTools.Data;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Get-Cifar10Data (names as on the cmdlet, the same as Get-MnistData's).</summary>
public sealed class GetCifar10DataParameters
{
    public string Subset { get; set; } = nameof(MnistSubset.Train);
    /// <summary>A directory holding the archive or the unpacked folder, or the archive itself (resolved), or null.</summary>
    public string? Path { get; set; }
    public int[]? Classes { get; set; }
    public int? Count { get; set; }
    public bool NoDownload { get; set; }
    public bool AsImage { get; set; }
}

/// <summary>
/// Get-Cifar10Data: loads the CIFAR-10 training or test images (downloading the archive when allowed) and emits them as
/// one data set, or with -AsImage one <see cref="ImageRecord"/> (3 x 32 x 32) per image.
/// </summary>
public sealed class GetCifar10DataLogic
{
    private readonly GetCifar10DataParameters _p;
    private readonly Func<Cifar10LoadOptions, CancellationToken, Cifar10Dataset> _load;

    /// <param name="parameters">The cmdlet's parameters.</param>
    /// <param name="load">The loader; default <see cref="Cifar10Dataset.Load"/> (tests inject one).</param>
    public GetCifar10DataLogic(GetCifar10DataParameters parameters, Func<Cifar10LoadOptions, CancellationToken, Cifar10Dataset>? load = null)
    {
        _p = parameters;
        _load = load ?? Cifar10Dataset.Load;
    }

    /// <summary>The load options the parameters stand for.</summary>
    public Cifar10LoadOptions BuildOptions(Action<Action<ICommandSink>>? post = null)
    {
        var options = new Cifar10LoadOptions
        {
            Subset = EnumParameter.Parse<MnistSubset>(_p.Subset, nameof(_p.Subset)),
            Directory = string.IsNullOrWhiteSpace(_p.Path) ? null : _p.Path,
            Classes = _p.Classes is { Length: > 0 } c ? c : null,
            Count = _p.Count,
            AllowDownload = !_p.NoDownload,
        };
        if (post is not null) options.Download = DataSetLoading.WithProgress(new DownloadOptions(), post);
        return options;
    }

    /// <summary>Loads and emits. Errors are non-terminating and carry -Path (or the subset) as target.</summary>
    public void Process(ICommandSink sink, CancellationToken cancellation)
    {
        var data = DataSetLoading.Load(sink, "Cifar10", _p.Path ?? (object)_p.Subset, post =>
        {
            var options = BuildOptions(post);
            post(s => s.WriteVerbose($"Loading CIFAR-10 {options.Subset} from '{Cifar10Files.ResolveDirectory(options.Directory)}'" +
                $"{(options.AllowDownload ? " (downloading when missing)" : "")}."));
            return _load(options, cancellation);
        });
        if (data is null) return;
        sink.WriteVerbose($"Loaded {data.Description} from '{data.Source}'.");
        DataSetLoading.Emit(sink, data, _p.AsImage, random: null, cancellation);
    }
}
