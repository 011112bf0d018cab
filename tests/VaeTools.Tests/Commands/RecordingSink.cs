using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>An <see cref="ICommandSink"/> that records every call, in order, the way a test host would see them.</summary>
public sealed class RecordingSink : ICommandSink
{
    public List<object> Output { get; } = new();
    public List<string> Verbose { get; } = new();
    public List<string> Debug { get; } = new();
    public List<string> Warnings { get; } = new();
    public List<ProgressReport> Progress { get; } = new();
    public List<CommandError> Errors { get; } = new();
    public List<(string Target, string Action)> ShouldProcessCalls { get; } = new();

    /// <summary>What ShouldProcess answers (false acts like -WhatIf or answering No to -Confirm).</summary>
    public bool Confirm { get; set; } = true;

    /// <summary>Called on every progress report (tests use it to press "Ctrl+C" at a chosen moment).</summary>
    public Action<ProgressReport>? OnProgress { get; set; }

    public int ThreadId { get; } = Environment.CurrentManagedThreadId;

    /// <summary>Ids of the threads that called the sink; PowerShell needs them all to be the pipeline thread.</summary>
    public HashSet<int> CallingThreads { get; } = new();

    private void Seen() => CallingThreads.Add(Environment.CurrentManagedThreadId);

    public void WriteObject(object value) { Seen(); Output.Add(value); }
    public void WriteVerbose(string message) { Seen(); Verbose.Add(message); }
    public void WriteDebug(string message) { Seen(); Debug.Add(message); }
    public void WriteWarning(string message) { Seen(); Warnings.Add(message); }
    public void WriteProgress(ProgressReport report) { Seen(); Progress.Add(report); OnProgress?.Invoke(report); }
    public void WriteError(CommandError error) { Seen(); Errors.Add(error); }

    public bool ShouldProcess(string target, string action)
    {
        Seen();
        ShouldProcessCalls.Add((target, action));
        return Confirm;
    }

    public T Single<T>() => Assert.IsType<T>(Assert.Single(Output));
}

/// <summary>Small MNIST-shaped data sets built from IDX bytes, so no test needs the real files.</summary>
public static class SyntheticMnist
{
    /// <summary>IDX image bytes: magic 0x803, count, 28, 28, then pixels.</summary>
    public static byte[] ImageFile(byte[] pixels, int count)
    {
        var bytes = new byte[16 + pixels.Length];
        WriteBigEndian(bytes, 0, 0x00000803);
        WriteBigEndian(bytes, 4, count);
        WriteBigEndian(bytes, 8, 28);
        WriteBigEndian(bytes, 12, 28);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    public static byte[] LabelFile(byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        WriteBigEndian(bytes, 0, 0x00000801);
        WriteBigEndian(bytes, 4, labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    private static void WriteBigEndian(byte[] b, int at, int v)
    {
        b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
    }

    /// <summary>
    /// <paramref name="count"/> 28 x 28 images: label i % 10, a bright square whose position depends on the label,
    /// plus seeded noise. Filtering, limits and binarization are applied as <paramref name="options"/> says.
    /// </summary>
    public static MnistDataset Create(int count, ulong seed = 1, MnistLoadOptions? options = null)
    {
        var random = new RandomSource(seed);
        var pixels = new byte[count * 784];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 10;
            labels[i] = (byte)label;
            for (int p = 0; p < 784; p++)
            {
                int r = p / 28, c = p % 28;
                bool square = r >= 2 * label && r < 2 * label + 8 && c >= 4 && c < 20;
                pixels[i * 784 + p] = square ? (byte)(200 + random.NextInt(56)) : (byte)random.NextInt(30);
            }
        }
        var images = IdxReader.ParseImages(ImageFile(pixels, count), "synthetic-images");
        return MnistDataset.Create(images, IdxReader.ParseLabels(LabelFile(labels), "synthetic-labels"), options, "synthetic-labels");
    }
}
