using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace VaeTools.IO;

/// <summary>
/// Reads and writes Hugging Face's safetensors format, so that Python's <c>safetensors</c> can open
/// VaeTools models and VaeTools can open theirs (float32 tensors only).
/// <para>Layout of a file:</para>
/// <code>
/// [0, 8)          N: header length, unsigned 64-bit little-endian
/// [8, 8+N)        header: UTF-8 JSON object, starts with '{', may end with spaces (we pad N to a multiple of 8)
///                   { "__metadata__": { "key": "value", ... },                        (optional, strings only)
///                     "name": { "dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end] }, ... }
/// [8+N, EOF)      data section: each tensor's bytes, little-endian, row-major, at [begin, end) relative to 8+N;
///                 the tensors tile the section exactly (no holes, no overlaps, nothing after the last).
/// </code>
/// The reader checks every one of these rules and reports the first broken one as a <see cref="ModelFileException"/>.
/// </summary>
public static class SafeTensorsFile
{
    /// <summary>The largest JSON header accepted, the same limit as the reference implementation (100 MB).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";
    private const string Float32 = "F32";

    // ---------------------------------------------------------------- writing

    /// <summary>
    /// Writes <paramref name="tensors"/> (in the given order) and optional <paramref name="metadata"/> to
    /// <paramref name="path"/> atomically: the bytes go to a temporary file in the same directory, which is
    /// flushed to disk and then renamed over <paramref name="path"/>. If anything fails, the temporary file is
    /// deleted and an existing file at <paramref name="path"/> is left as it was.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor is invalid (null, unnamed, duplicate name, shape does not match its data).</exception>
    public static void Write(string path, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        WriteAtomic(path, stream => Write(stream, tensors, metadata));
    }

    /// <summary>
    /// Writes a complete safetensors file to <paramref name="stream"/> from its current position.
    /// Every tensor is validated before the first byte is written.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor is invalid (null, unnamed, duplicate name, shape does not match its data).</exception>
    public static void Write(Stream stream, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        byte[] header = BuildHeader(tensors, metadata); // validates; length is a multiple of 8

        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var t in tensors)
            WriteFloatsLittleEndian(stream, t.Data);
        stream.Flush();
    }

    /// <summary>
    /// Runs <paramref name="writeContent"/> on a fresh temporary file next to <paramref name="path"/>, flushes it to
    /// disk and renames it over <paramref name="path"/>; on any failure deletes the temporary file and rethrows.
    /// Internal so tests can inject a failure half-way through the bytes.
    /// </summary>
    internal static void WriteAtomic(string path, Action<Stream> writeContent) => IO.AtomicFile.Write(path, writeContent);

    /// <summary>The JSON header, space-padded to a multiple of 8 bytes so that the data section is 8-byte aligned.</summary>
    private static byte[] BuildHeader(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    if (key is null || value is null)
                        throw new ArgumentException($"Metadata key '{key}' has a null key or value; safetensors metadata maps strings to strings.", nameof(metadata));
                    w.WriteString(key, value);
                }
                w.WriteEndObject();
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            ulong offset = 0;
            for (int i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                long count = CheckTensor(t, i, names);
                ulong end = offset + (ulong)count * sizeof(float);
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", Float32);
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(end);
                w.WriteEndArray();
                w.WriteEndObject();
                offset = end;
            }
            w.WriteEndObject();
        }

        int padded = (json.WrittenCount + 7) / 8 * 8;
        if (padded > MaxHeaderBytes)
            throw new ArgumentException($"The safetensors header would be {padded} bytes, over the {MaxHeaderBytes}-byte limit readers accept.", nameof(tensors));
        var header = new byte[padded];
        json.WrittenSpan.CopyTo(header);
        header.AsSpan(json.WrittenCount).Fill((byte)' ');
        return header;
    }

    /// <summary>Checks one tensor for writing; returns its element count.</summary>
    private static long CheckTensor(SafeTensor? t, int index, HashSet<string> names)
    {
        if (t is null)
            throw new ArgumentException($"Tensor #{index} is null.", "tensors");
        if (string.IsNullOrEmpty(t.Name))
            throw new ArgumentException($"Tensor #{index} has no name.", "tensors");
        if (t.Name == MetadataKey)
            throw new ArgumentException($"Tensor #{index} is named '{MetadataKey}', which safetensors reserves for metadata.", "tensors");
        if (!names.Add(t.Name))
            throw new ArgumentException($"Two tensors are named '{t.Name}'; names in a safetensors file must be unique.", "tensors");
        if (t.Shape is null || t.Data is null)
            throw new ArgumentException($"Tensor '{t.Name}' has a null shape or data.", "tensors");
        if (t.Shape.Any(d => d < 0))
            throw new ArgumentException($"Tensor '{t.Name}' has shape {SafeTensor.FormatShape(t.Shape)}; dimensions must be non-negative.", "tensors");
        long count = ElementCount(t.Shape);
        if (count != t.Data.Length)
            throw new ArgumentException(
                $"Tensor '{t.Name}' has shape {SafeTensor.FormatShape(t.Shape)} ({count} values) but its data holds {t.Data.Length} values.", "tensors");
        return count;
    }

    private static void WriteFloatsLittleEndian(Stream stream, float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }
        var buffer = new byte[4096 * sizeof(float)];
        for (int start = 0; start < data.Length; start += 4096)
        {
            int n = Math.Min(4096, data.Length - start);
            for (int i = 0; i < n; i++)
                BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * sizeof(float)), data[start + i]);
            stream.Write(buffer, 0, n * sizeof(float));
        }
    }

    // ---------------------------------------------------------------- reading

    /// <summary>Reads every tensor and the metadata of the safetensors file at <paramref name="path"/>.</summary>
    /// <exception cref="ModelFileException">The file is not a safetensors file, is damaged, or holds a tensor that is not F32.</exception>
    public static SafeTensorsContent Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Read(stream, path);
    }

    /// <summary>
    /// Reads a safetensors file from <paramref name="stream"/> (from its current position to its end; a stream that
    /// cannot seek is buffered in memory first). <paramref name="sourceName"/> names the file in error messages.
    /// </summary>
    /// <exception cref="ModelFileException">The content is not a safetensors file, is damaged, or holds a tensor that is not F32.</exception>
    public static SafeTensorsContent Read(Stream stream, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        sourceName ??= "(stream)";
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }

        long available = stream.Length - stream.Position;
        if (available < 8)
            throw Bad(sourceName, available == 0
                ? "it is empty, so it is not a safetensors file."
                : $"it is only {available} bytes long, so it is not a safetensors file (those start with an 8-byte header length).");

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        long afterLength = available - 8;

        if (headerLength > MaxHeaderBytes)
            throw Bad(sourceName,
                $"it is not a safetensors file: its first 8 bytes give a header length of {headerLength} bytes, " +
                $"over the {MaxHeaderBytes}-byte limit (first bytes: {Hex(lengthBytes)}).");
        if ((long)headerLength > afterLength)
        {
            int first = afterLength > 0 ? stream.ReadByte() : -1;
            throw Bad(sourceName, first == '{'
                ? $"it is truncated: the header should be {headerLength} bytes but only {afterLength} bytes follow the length field."
                : $"it is not a safetensors file: the header length {headerLength} is larger than the {afterLength} bytes that follow it.");
        }
        if (headerLength == 0)
            throw Bad(sourceName, "it is not a safetensors file: the header length is 0, but a header is a JSON object.");

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        if (header[0] != (byte)'{')
            throw Bad(sourceName, $"it is not a safetensors file: the header must be a JSON object starting with '{{' but starts with byte 0x{header[0]:X2}.");

        long dataLength = afterLength - (long)headerLength;
        var (entries, metadata) = ParseHeader(sourceName, header, dataLength);

        // Entries are sorted by offset and tile [0, dataLength) exactly, so the data can be read in one pass.
        var tensors = new List<SafeTensor>(entries.Count);
        foreach (var e in entries)
        {
            var data = new float[e.Count];
            var bytes = MemoryMarshal.AsBytes(data.AsSpan());
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (EndOfStreamException ex)
            {
                throw Bad(sourceName, $"it is truncated: the data of tensor '{e.Name}' ends early.", ex);
            }
            if (!BitConverter.IsLittleEndian)
            {
                var asInts = MemoryMarshal.Cast<float, int>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(asInts, asInts);
            }
            tensors.Add(new SafeTensor(e.Name, e.Shape, data));
        }
        return new SafeTensorsContent(sourceName, tensors, metadata);
    }

    /// <summary>A tensor entry of the header: where its bytes are and how many floats they hold.</summary>
    private readonly record struct Entry(string Name, int[] Shape, int Count, ulong Begin, ulong End);

    /// <summary>
    /// Parses and checks the header against a data section of <paramref name="dataLength"/> bytes.
    /// Returns the entries sorted by offset.
    /// </summary>
    private static (List<Entry> Entries, IReadOnlyDictionary<string, string> Metadata) ParseHeader(
        string source, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException ex)
        {
            throw Bad(source, $"its header is not valid JSON ({ex.Message}).", ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Bad(source, $"its header is JSON but not an object (found {root.ValueKind}).");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<Entry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw Bad(source, $"the header names '{prop.Name}' twice; names must be unique.");
                if (prop.Name == MetadataKey)
                    ReadMetadata(source, prop.Value, metadata);
                else
                    entries.Add(ReadEntry(source, prop.Name, prop.Value));
            }

            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            CheckLayout(source, entries, dataLength);
            return (entries, metadata);
        }
    }

    private static void ReadMetadata(string source, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"its '{MetadataKey}' is a JSON {value.ValueKind}, not an object of strings.");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Bad(source, $"its '{MetadataKey}' entry '{item.Name}' is a JSON {item.Value.ValueKind}; metadata values must be strings.");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Bad(source, $"its '{MetadataKey}' names '{item.Name}' twice; keys must be unique.");
        }
    }

    private static Entry ReadEntry(string source, string name, JsonElement value)
    {
        string what = $"tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"the header entry for {what} is a JSON {value.ValueKind}, not an object with dtype, shape and data_offsets.");

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Bad(source, $"{what} has no string 'dtype'.");
        string dtype = dtypeElement.GetString()!;
        if (dtype != Float32)
            throw Bad(source, $"{what} has dtype '{dtype}'; VaeTools reads only F32 (float32) tensors.");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw Bad(source, $"{what} has no 'shape' list.");
        var shape = new int[shapeElement.GetArrayLength()];
        int k = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw Bad(source, $"{what} has shape {shapeElement.GetRawText()}; dimensions must be integers from 0 to {int.MaxValue}.");
            shape[k++] = dim;
        }
        long count = ElementCount(shape);
        if (count > Array.MaxLength)
            throw Bad(source, $"{what} has shape {SafeTensor.FormatShape(shape)}, more values than one array can hold.");

        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2
            || !TryGetOffset(offsets[0], out ulong begin) || !TryGetOffset(offsets[1], out ulong end))
            throw Bad(source, $"{what} needs 'data_offsets' as [begin, end], two non-negative integers.");

        return new Entry(name, shape, (int)count, begin, end);
    }

    private static bool TryGetOffset(JsonElement e, out ulong value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetUInt64(out value);
    }

    /// <summary>
    /// The product of non-negative <paramref name="shape"/> dimensions (1 for a scalar []); any product above
    /// <see cref="Array.MaxLength"/> comes back as <see cref="long.MaxValue"/> rather than overflowing.
    /// </summary>
    private static long ElementCount(int[] shape)
    {
        if (shape.Contains(0)) return 0;
        long count = 1;
        foreach (int d in shape)
        {
            count *= d; // both factors are at most Array.MaxLength here, so this cannot overflow a long
            if (count > Array.MaxLength) return long.MaxValue;
        }
        return count;
    }

    /// <summary>Checks that the sorted entries tile [0, dataLength) exactly and that each byte range fits its shape.</summary>
    private static void CheckLayout(string source, List<Entry> entries, long dataLength)
    {
        ulong expected = 0; // where the next tensor must begin
        string previous = "";
        foreach (var e in entries)
        {
            string range = $"data_offsets [{e.Begin}, {e.End}]";
            if (e.End < e.Begin)
                throw Bad(source, $"tensor '{e.Name}' has {range}, which end before they begin.");
            if (e.Begin > expected)
                throw Bad(source, $"the data section has a hole: bytes {expected} to {e.Begin - 1} belong to no tensor (before tensor '{e.Name}', {range}).");
            if (e.Begin < expected)
                throw Bad(source, $"tensor '{e.Name}' ({range}) overlaps tensor '{previous}', which ends at byte {expected}.");
            if (e.End > (ulong)dataLength)
                throw Bad(source, $"tensor '{e.Name}' has {range}, past the end of the {dataLength}-byte data section: the file is truncated or the offsets are out of range.");
            ulong needed = (ulong)e.Count * sizeof(float);
            if (e.End - e.Begin != needed)
                throw Bad(source, $"tensor '{e.Name}' has shape {SafeTensor.FormatShape(e.Shape)} and dtype F32, which need {needed} bytes, but its {range} span {e.End - e.Begin} bytes.");
            expected = e.End;
            previous = e.Name;
        }
        if (expected != (ulong)dataLength)
            throw Bad(source, $"the data section is {dataLength} bytes but the tensors cover only {expected}: {(ulong)dataLength - expected} bytes at the end belong to no tensor.");
    }

    private static ModelFileException Bad(string source, string reason, Exception? inner = null) =>
        new(source, $"Cannot read model file '{source}': {reason}", inner);

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}
