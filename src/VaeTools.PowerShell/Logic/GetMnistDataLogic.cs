using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.PowerShell.Logic;

/// <summary>Parameters of Get-MnistData (names as on the cmdlet).</summary>
public sealed class GetMnistDataParameters
{
    public string Subset { get; set; } = nameof(MnistSubset.Train);
    public string Variant { get; set; } = nameof(MnistVariant.Digits);
    /// <summary>Directory holding the IDX files (already resolved to a file-system path), or null for the default places.</summary>
    public string? Path { get; set; }
    public int[]? Classes { get; set; }
    public int? Count { get; set; }
    public string Binarize { get; set; } = nameof(MnistBinarization.None);
    public bool NoDownload { get; set; }
    public bool AsImage { get; set; }
    /// <summary>Seed of the pixel draws when -Binarize Sample and -AsImage; null: a fresh seed.</summary>
    public ulong? Seed { get; set; }
}

/// <summary>
/// Get-MnistData: loads one data set (downloading it when allowed) and emits it, or with -AsImage one
/// <see cref="ImageRecord"/> per image.
/// </summary>
public sealed class GetMnistDataLogic
{
    private readonly GetMnistDataParameters _p;
    private readonly Func<MnistLoadOptions, CancellationToken, MnistDataset> _load;

    /// <param name="parameters">The cmdlet's parameters.</param>
    /// <param name="load">The loader; default <see cref="MnistDataset.Load"/> (tests inject one).</param>
    public GetMnistDataLogic(GetMnistDataParameters parameters, Func<MnistLoadOptions, CancellationToken, MnistDataset>? load = null)
    {
        _p = parameters;
        _load = load ?? MnistDataset.Load;
    }

    /// <summary>The load options the parameters stand for (validated).</summary>
    public MnistLoadOptions BuildOptions(Action<Action<ICommandSink>>? post = null)
    {
        var options = new MnistLoadOptions
        {
            Subset = EnumParameter.Parse<MnistSubset>(_p.Subset, nameof(_p.Subset)),
            Variant = EnumParameter.Parse<MnistVariant>(_p.Variant, nameof(_p.Variant)),
            Binarization = EnumParameter.Parse<MnistBinarization>(_p.Binarize, nameof(_p.Binarize)),
            Directory = string.IsNullOrWhiteSpace(_p.Path) ? null : _p.Path,
            Classes = _p.Classes is { Length: > 0 } c ? c : null,
            Count = _p.Count,
            AllowDownload = !_p.NoDownload,
            EnableDownloadHint = "Leave out -NoDownload",
        };
        if (post is not null) options.Download = DataSetLoading.WithProgress(new MnistDownloadOptions(), post);
        return options;
    }

    /// <summary>Loads and emits. Errors are non-terminating and carry the directory (or -Path) as target.</summary>
    public void Process(ICommandSink sink, CancellationToken cancellation)
    {
        if (_p.Path is string given && File.Exists(given))
        {
            sink.WriteError(new CommandError("MnistPathIsFile", ErrorKind.InvalidArgument, given,
                new ArgumentException($"-Path '{given}' is a file; give the folder that holds the four IDX files (raw or .gz).", "Path")));
            return;
        }
        var data = DataSetLoading.Load(sink, "Mnist", _p.Path ?? (object)_p.Subset, post =>
        {
            var options = BuildOptions(post);
            post(s => s.WriteVerbose($"Loading {MnistFiles.DisplayName(options.Variant)} {options.Subset} from " +
                $"'{MnistLocator.ResolveDirectory(options.Variant, options.Directory)}'{(options.AllowDownload ? " (downloading when missing)" : "")}."));
            return _load(options, cancellation);
        }, explain: e => e is ArgumentOutOfRangeException && _p.Count is int count
            ? new ArgumentOutOfRangeException($"-Count {count}: {Errors.InPowerShellTerms(e).Message}", e)
            : e);
        if (data is null) return;
        sink.WriteVerbose($"Loaded {data.Description}.");
        DataSetLoading.Emit(sink, data, _p.AsImage, new RandomSource(_p.Seed ?? (ulong)Random.Shared.NextInt64()), cancellation);
    }
}
