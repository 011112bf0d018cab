using VaeTools.Data;
using VaeTools.Engine;

namespace VaeTools.PowerShell.Logic;

/// <summary>
/// What the data-set cmdlets (Get-MnistData, Get-Cifar10Data) do alike: load on a worker thread with verbose and
/// download progress posted back to the pipeline thread, turn a failure into one error record whose id names the data
/// set ("MnistDataNotFound", "Cifar10ChecksumMismatch", ...), and emit the data set or, with -AsImage, one image each.
/// </summary>
internal static class DataSetLoading
{
    /// <summary>Download messages as verbose records and the transfer as progress (activity id 10), posted to the pipeline thread.</summary>
    public static T WithProgress<T>(T download, Action<Action<ICommandSink>> post) where T : DownloadOptions
    {
        download.Log = message => post(s => s.WriteVerbose(message));
        download.Progress = (file, done, total) => post(s => s.WriteProgress(new ProgressReport(10, $"Downloading {file}",
            total is long t and > 0 ? $"{done / 1024} of {t / 1024} KB" : $"{done / 1024} KB",
            total is long t2 and > 0 ? (int)Math.Clamp(100 * done / t2, 0, 100) : 0,
            Completed: total is long t3 && done >= t3)));
        return download;
    }

    /// <summary>
    /// Runs <paramref name="load"/> on a worker thread. On failure writes one non-terminating error, its id
    /// <paramref name="name"/> + what went wrong, its target <paramref name="target"/>, and returns null.
    /// </summary>
    public static TData? Load<TData>(ICommandSink sink, string name, object target, Func<Action<Action<ICommandSink>>, TData> load,
        Func<Exception, Exception>? explain = null) where TData : class
    {
        try
        {
            return PipelineThread.Run(sink, load);
        }
        catch (CommandException e)
        {
            sink.WriteError(e.Error);
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string what = e switch
            {
                FileNotFoundException => "DataNotFound",
                DataChecksumException => "ChecksumMismatch",
                DataFormatException => "DataInvalid",
                DataDownloadException => "DownloadFailed",
                OperationCanceledException => "LoadStopped",
                _ => "LoadFailed",
            };
            sink.WriteError(Errors.From(explain?.Invoke(e) ?? e, name + what, target));
            return null;
        }
    }

    /// <summary>The data set itself, or with <paramref name="asImage"/> one <see cref="ImageRecord"/> per image (stopping when cancelled).</summary>
    public static void Emit(ICommandSink sink, IDataset data, bool asImage, RandomSource? random, CancellationToken cancellation)
    {
        if (!asImage)
        {
            sink.WriteObject(data);
            return;
        }
        for (int i = 0; i < data.Count; i++)
        {
            if ((i & 255) == 0 && cancellation.IsCancellationRequested) return;
            sink.WriteObject(ImageRecord.FromDataset(data, i, random));
        }
    }
}
