using VaeTools.Tests.TestSupport;
using VaeTools.IO;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.Tests.IO;

public sealed class SafeTensorsFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathFor(string name) => Path.Combine(_dir, name);

    // ------------------------------------------------------------ helpers built without the code under test

    /// <summary>Little-endian bytes of <paramref name="values"/>, one float at a time.</summary>
    private static byte[] F32Bytes(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>A file by hand: 8-byte LE length (the header's, unless <paramref name="declaredLength"/>), header, data.</summary>
    private static byte[] Raw(string header, byte[] data, ulong? declaredLength = null)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, declaredLength ?? (ulong)h.Length);
        h.CopyTo(file, 8);
        data.CopyTo(file, 8 + h.Length);
        return file;
    }

    private static float[] RandomValues(RandomSource rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)rng.NextGaussian();
        return v;
    }

    private static List<SafeTensor> SampleTensors()
    {
        var rng = new RandomSource(42);
        return new List<SafeTensor>
        {
            new("encoder.fc1.weight", new[] { 3, 4 }, RandomValues(rng, 12)),
            new("encoder.fc1.bias", new[] { 5 }, RandomValues(rng, 5)),
            new("beta", Array.Empty<int>(), new[] { 0.25f }),                                   // scalar
            new("empty", new[] { 0, 3 }, Array.Empty<float>()),                                   // zero-sized
            new("odd", new[] { 2, 1, 3 }, new[] { float.NaN, -0f, float.PositiveInfinity, float.Epsilon, float.MaxValue, -1.5f }),
        };
    }

    private static readonly Dictionary<string, string> SampleMetadata = new()
    {
        ["format"] = "vaetools",
        ["note"] = "quotes \" and \\ backslash, ünïcödé, <html>&",
        ["latent"] = "2",
    };

    private static void AssertSameTensor(SafeTensor expected, SafeTensor actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Shape, actual.Shape);
        // Bitwise, so NaN and -0 count too.
        Assert.Equal(expected.Data.Select(BitConverter.SingleToUInt32Bits), actual.Data.Select(BitConverter.SingleToUInt32Bits));
    }

    // ------------------------------------------------------------ round trip and layout

    [Fact]
    public void Round_trip_keeps_names_shapes_values_order_and_metadata()
    {
        var tensors = SampleTensors();
        string path = PathFor("model.safetensors");
        SafeTensorsFile.Write(path, tensors, SampleMetadata);

        var content = SafeTensorsFile.Read(path);

        Assert.Equal(tensors.Count, content.Tensors.Count);
        for (int i = 0; i < tensors.Count; i++)
            AssertSameTensor(tensors[i], content.Tensors[i]);
        Assert.Equal(SampleMetadata.OrderBy(p => p.Key), content.Metadata.OrderBy(p => p.Key));
        AssertSameTensor(tensors[1], content["encoder.fc1.bias"]);
        Assert.True(content.Contains("beta"));
        Assert.False(content.Contains("Beta"));
        Assert.Equal(path, content.SourceName);
    }

    [Fact]
    public void Write_matches_the_reference_implementations_bytes()
    {
        // The Rust reference's own serialization tests (huggingface/safetensors, tensor.rs): one F32 tensor holding
        // 0..5. "attn.0" of shape [1,2,3] gives a 64-byte header that needs no padding; "attn0" of shape [1,1,2,3]
        // gives 65 JSON bytes, padded with 7 spaces to 72 so that the data starts 8-byte aligned.
        float[] values = { 0, 1, 2, 3, 4, 5 };
        var cases = new[]
        {
            (Name: "attn.0", Shape: new[] { 1, 2, 3 }, Json: "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}", HeaderLength: 64),
            (Name: "attn0", Shape: new[] { 1, 1, 2, 3 }, Json: "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ", HeaderLength: 72),
        };
        foreach (var c in cases)
        {
            var ms = new MemoryStream();
            SafeTensorsFile.Write(ms, new[] { new SafeTensor(c.Name, c.Shape, values) });

            byte[] expected = Raw(c.Json, F32Bytes(values));
            Assert.Equal(c.HeaderLength, (int)BinaryPrimitives.ReadUInt64LittleEndian(expected));
            Assert.Equal(expected, ms.ToArray());
        }
    }

    [Fact]
    public void Write_no_tensors_matches_the_reference_empty_file()
    {
        // Reference test_empty: length 8, "{}" and six spaces.
        var ms = new MemoryStream();
        SafeTensorsFile.Write(ms, Array.Empty<SafeTensor>());
        Assert.Equal(new byte[] { 8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32 }, ms.ToArray());

        var back = SafeTensorsFile.Read(new MemoryStream(ms.ToArray()), "empty.safetensors");
        Assert.Empty(back.Tensors);
        Assert.Empty(back.Metadata);
    }

    [Fact]
    public void Read_reference_style_file_with_space_padding_and_metadata()
    {
        string header = "{\"__metadata__\":{\"format\":\"pt\"},\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}   ";
        var content = SafeTensorsFile.Read(new MemoryStream(Raw(header, F32Bytes(0, 1, 2, 3, 4, 5))), "ref.safetensors");

        var t = Assert.Single(content.Tensors);
        Assert.Equal("attn0", t.Name);
        Assert.Equal(new[] { 1, 1, 2, 3 }, t.Shape);
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, t.Data);
        Assert.Equal("pt", content.Metadata["format"]);
    }

    [Fact]
    public void Read_returns_tensors_in_file_order_whatever_the_header_order()
    {
        // Python's writer orders header keys and bytes differently from us; the reader must follow the offsets.
        string header = "{\"second\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}," +
                        "\"first\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        var content = SafeTensorsFile.Read(new MemoryStream(Raw(header, F32Bytes(1, 2, 3))), "order.safetensors");

        Assert.Equal(new[] { "first", "second" }, content.Tensors.Select(t => t.Name));
        Assert.Equal(new float[] { 1, 2 }, content["first"].Data);
        Assert.Equal(new float[] { 3 }, content["second"].Data);
    }

    [Fact]
    public void Write_is_readable_by_an_independent_minimal_reader()
    {
        // A reader that shares no code with SafeTensorsFile: BinaryReader for the framing, JsonDocument for the header.
        var tensors = SampleTensors();
        foreach (string extra in new[] { "", "a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg" }) // every padding length
        {
            tensors[0] = tensors[0] with { Name = "w" + extra };
            var ms = new MemoryStream();
            SafeTensorsFile.Write(ms, tensors, SampleMetadata);
            byte[] file = ms.ToArray();

            using var reader = new BinaryReader(new MemoryStream(file));
            ulong n = reader.ReadUInt64(); // BinaryReader is little-endian on every host
            Assert.Equal(0UL, n % 8);
            byte[] header = reader.ReadBytes((int)n);
            Assert.Equal((byte)'{', header[0]);
            string text = Encoding.UTF8.GetString(header);
            Assert.Equal(text.TrimEnd(' ').Length, text.TrimEnd().Length); // padding is spaces only
            byte[] data = reader.ReadBytes(file.Length - 8 - (int)n);

            using var doc = JsonDocument.Parse(header);
            var root = doc.RootElement;
            foreach (var (key, value) in SampleMetadata)
                Assert.Equal(value, root.GetProperty("__metadata__").GetProperty(key).GetString());

            long expectedBegin = 0;
            foreach (var t in tensors)
            {
                var entry = root.GetProperty(t.Name);
                Assert.Equal("F32", entry.GetProperty("dtype").GetString());
                Assert.Equal(t.Shape, entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
                long begin = entry.GetProperty("data_offsets")[0].GetInt64();
                long end = entry.GetProperty("data_offsets")[1].GetInt64();
                Assert.Equal(expectedBegin, begin); // contiguous, in the order given
                Assert.Equal(t.Data.Length * 4L, end - begin);
                for (int i = 0; i < t.Data.Length; i++)
                    Assert.Equal(BitConverter.SingleToUInt32Bits(t.Data[i]),
                                 BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)begin + 4 * i)));
                expectedBegin = end;
            }
            Assert.Equal(data.Length, expectedBegin); // nothing after the last tensor
            Assert.Equal(tensors.Count + 1, root.EnumerateObject().Count());
        }
    }

    [Fact]
    public void Read_from_a_non_seekable_stream()
    {
        var ms = new MemoryStream();
        SafeTensorsFile.Write(ms, SampleTensors());
        var content = SafeTensorsFile.Read(new ForwardOnlyStream(ms.ToArray()), "pipe");
        Assert.Equal(SampleTensors().Select(t => t.Name), content.Tensors.Select(t => t.Name));
        AssertSameTensor(SampleTensors()[0], content.Tensors[0]);
    }

    [Fact]
    public void Indexer_unknown_name_lists_the_names_the_file_holds()
    {
        var ms = new MemoryStream();
        SafeTensorsFile.Write(ms, SampleTensors());
        var content = SafeTensorsFile.Read(new MemoryStream(ms.ToArray()), "m.safetensors");

        var ex = Assert.Throws<KeyNotFoundException>(() => content["decoder.fc1.weight"]);
        Assert.Contains("m.safetensors", ex.Message);
        Assert.Contains("'decoder.fc1.weight'", ex.Message);
        Assert.Contains("'encoder.fc1.weight'", ex.Message);
        Assert.Contains("'beta'", ex.Message);
        Assert.False(content.TryGet("decoder.fc1.weight", out _));
    }

    [Fact]
    public void Engine_tensor_converts_both_ways()
    {
        var m = Tensor.FromRows(new[] { new float[] { 1, 2, 3 }, new float[] { 4, 5, 6 } });
        var st = SafeTensor.FromTensor("m", m);
        Assert.Equal(new[] { 2, 3 }, st.Shape);
        m[0, 0] = 99; // a copy, not a view
        Assert.Equal(1f, st.Data[0]);

        var back = st.ToTensor();
        Assert.Equal("[2 x 3]", back.Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, back.ToArray());
        Assert.Equal("[1 x 4]", new SafeTensor("b", new[] { 4 }, new float[4]).ToTensor().Shape);
        Assert.Equal("[1 x 1]", new SafeTensor("s", Array.Empty<int>(), new float[1]).ToTensor().Shape);
        var ex = Assert.Throws<ShapeMismatchException>(() => new SafeTensor("c", new[] { 1, 2, 2 }, new float[4]).ToTensor());
        Assert.Contains("'c'", ex.Message);
        Assert.Contains("[1, 2, 2]", ex.Message);
    }

    // ------------------------------------------------------------ writer validation

    public static TheoryData<string, string> InvalidTensorLists => new()
    {
        { "duplicate", "'w'" },
        { "shape-mismatch", "[2, 3]" },
        { "negative-dim", "[-1, 3]" },
        { "reserved-name", "__metadata__" },
        { "null", "#1" },
    };

    private static SafeTensor?[] InvalidList(string kind) => kind switch
    {
        "duplicate" => new SafeTensor?[] { new("w", new[] { 1 }, new float[1]), new("w", new[] { 1 }, new float[1]) },
        "shape-mismatch" => new SafeTensor?[] { new("w", new[] { 2, 3 }, new float[5]) },
        "negative-dim" => new SafeTensor?[] { new("w", new[] { -1, 3 }, new float[3]) },
        "reserved-name" => new SafeTensor?[] { new("__metadata__", new[] { 1 }, new float[1]) },
        "null" => new SafeTensor?[] { new("w", new[] { 1 }, new float[1]), null },
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(InvalidTensorLists))]
    public void Write_invalid_tensors_throw_before_writing_anything(string kind, string expectedInMessage)
    {
        var ms = new MemoryStream();
        var ex = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(ms, InvalidList(kind)!));
        Assert.Contains(expectedInMessage, ex.Message);
        Assert.Equal(0, ms.Length);
    }

    // ------------------------------------------------------------ atomic writes

    [Fact]
    public void Write_replaces_an_existing_file()
    {
        string path = PathFor("model.safetensors");
        SafeTensorsFile.Write(path, new[] { new SafeTensor("old", new[] { 1 }, new[] { 1f }) });
        SafeTensorsFile.Write(path, new[] { new SafeTensor("new", new[] { 2 }, new[] { 2f, 3f }) });

        var content = SafeTensorsFile.Read(path);
        Assert.Equal("new", Assert.Single(content.Tensors).Name);
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_invalid_tensor_late_in_the_list_leaves_old_file_and_no_temp_file()
    {
        string path = PathFor("model.safetensors");
        SafeTensorsFile.Write(path, SampleTensors());
        byte[] before = File.ReadAllBytes(path);

        var tensors = SampleTensors();
        tensors.Add(new SafeTensor("late", new[] { 4, 4 }, new float[15])); // the last one is wrong
        var ex = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, tensors));
        Assert.Contains("'late'", ex.Message);

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_stream_fails_mid_write_leaves_old_file_and_no_temp_file()
    {
        string path = PathFor("model.safetensors");
        SafeTensorsFile.Write(path, SampleTensors());
        byte[] before = File.ReadAllBytes(path);

        // The real serializer, writing through a stream that fails like a full disk once 100 bytes are down.
        FailingStream? failing = null;
        var ex = Assert.Throws<IOException>(() => SafeTensorsFile.WriteAtomic(path, s =>
        {
            failing = new FailingStream(s, failAfterBytes: 100);
            SafeTensorsFile.Write(failing, new[] { new SafeTensor("big", new[] { 64, 64 }, new float[64 * 64]) });
        }));
        Assert.Contains("disk full", ex.Message);
        Assert.True(failing!.Written >= 100, "the failure should come after some bytes were written");

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_new_file_fails_mid_write_leaves_no_file_at_all()
    {
        string path = PathFor("fresh.safetensors");
        Assert.Throws<IOException>(() => SafeTensorsFile.WriteAtomic(path, s =>
        {
            s.Write(new byte[10]);
            throw new IOException("disk full");
        }));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Write_missing_directory_names_the_path()
    {
        string path = Path.Combine(_dir, "no-such-dir", "m.safetensors");
        var ex = Assert.Throws<DirectoryNotFoundException>(() => SafeTensorsFile.Write(path, SampleTensors()));
        Assert.Contains(path, ex.Message);
    }

    // ------------------------------------------------------------ reading errors

    private static byte[] ValidFileBytes()
    {
        var ms = new MemoryStream();
        SafeTensorsFile.Write(ms, SampleTensors());
        return ms.ToArray();
    }

    private static byte[] PngBytes()
    {
        // The PNG signature and the start of an IHDR chunk for a 28x28 greyscale image.
        return new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 28, 0, 0, 0, 28, 8, 0, 0, 0, 0 };
    }

    private static byte[] ZipBytes()
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        using (var w = new StreamWriter(zip.CreateEntry("model.json").Open()))
            w.Write("{\"weights\": [1, 2, 3]}");
        return ms.ToArray();
    }

    private static string Entry(string name, string shape, string offsets, string dtype = "F32") =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    public static TheoryData<string, string[]> BrokenFiles => new()
    {
        { "empty", new[] { "empty", "not a safetensors file" } },
        { "five-bytes", new[] { "only 5 bytes", "not a safetensors file" } },
        { "png", new[] { "not a safetensors file" } },
        { "text", new[] { "not a safetensors file" } },
        { "zip", new[] { "not a safetensors file" } },
        { "small-length-no-brace", new[] { "not a safetensors file", "'{'" } },
        { "zero-header-length", new[] { "not a safetensors file", "header length is 0" } },
        { "header-longer-than-file", new[] { "truncated", "200 bytes" } },
        { "header-not-json", new[] { "not valid JSON" } },
        { "header-array", new[] { "not a safetensors file", "'{'" } },
        { "offsets-out-of-range", new[] { "'w'", "past the end", "out of range" } },
        { "data-truncated", new[] { "'odd'", "truncated" } },
        { "overlap", new[] { "'b'", "overlaps", "'a'" } },
        { "hole", new[] { "hole", "bytes 8 to 11", "'b'" } },
        { "not-starting-at-zero", new[] { "hole", "bytes 0 to 3", "'a'" } },
        { "extra-bytes-at-end", new[] { "4 bytes at the end belong to no tensor" } },
        { "end-before-begin", new[] { "'w'", "end before they begin" } },
        { "shape-length-mismatch", new[] { "'w'", "[2, 3]", "24 bytes", "span 20 bytes" } },
        { "unsupported-dtype", new[] { "'test'", "'I32'", "only F32" } },
        { "duplicate-name", new[] { "'w'", "twice" } },
        { "metadata-not-strings", new[] { "__metadata__", "'epochs'", "must be strings" } },
        { "bad-shape", new[] { "'w'", "[-2]" } },
        { "bad-offsets", new[] { "'w'", "data_offsets" } },
        { "missing-dtype", new[] { "'w'", "dtype" } },
    };

    private static byte[] BrokenFile(string kind) => kind switch
    {
        "empty" => Array.Empty<byte>(),
        "five-bytes" => new byte[] { 1, 2, 3, 4, 5 },
        "png" => PngBytes(),
        "text" => Encoding.UTF8.GetBytes("This is a plain text file, not a model.\nSecond line.\n"),
        "zip" => ZipBytes(),
        "small-length-no-brace" => Raw("abcd", Array.Empty<byte>()),
        "zero-header-length" => Raw("", new byte[8]),
        "header-longer-than-file" => Raw("{\"w\":{", new byte[8], declaredLength: 200),
        "header-not-json" => Raw("{\"w\": {\"dtype\": ", Array.Empty<byte>()),
        "header-array" => Raw("[1, 2]  ", Array.Empty<byte>()),
        "offsets-out-of-range" => Raw("{" + Entry("w", "[4]", "[0,16]") + "}", F32Bytes(1, 2)),
        "data-truncated" => ValidFileBytes()[..^4],
        "overlap" => Raw("{" + Entry("a", "[2]", "[0,8]") + "," + Entry("b", "[2]", "[4,12]") + "}", new byte[12]),
        "hole" => Raw("{" + Entry("a", "[2]", "[0,8]") + "," + Entry("b", "[2]", "[12,20]") + "}", new byte[20]),
        "not-starting-at-zero" => Raw("{" + Entry("a", "[1]", "[4,8]") + "}", new byte[8]),
        "extra-bytes-at-end" => Raw("{" + Entry("w", "[2]", "[0,8]") + "}", new byte[12]),
        "end-before-begin" => Raw("{" + Entry("w", "[0]", "[8,4]") + "}", new byte[8]),
        "shape-length-mismatch" => Raw("{" + Entry("w", "[2,3]", "[0,20]") + "}", new byte[20]),
        // The example file in the reference implementation's documentation: a valid file, but of I32.
        "unsupported-dtype" => Raw("{" + Entry("test", "[2,2]", "[0,16]", dtype: "I32") + "}", new byte[16]),
        "duplicate-name" => Raw("{" + Entry("w", "[1]", "[0,4]") + "," + Entry("w", "[1]", "[0,4]") + "}", new byte[4]),
        "metadata-not-strings" => Raw("{\"__metadata__\":{\"epochs\":10}," + Entry("w", "[1]", "[0,4]") + "}", new byte[4]),
        "bad-shape" => Raw("{" + Entry("w", "[-2]", "[0,4]") + "}", new byte[4]),
        "bad-offsets" => Raw("{" + Entry("w", "[1]", "[0]") + "}", new byte[4]),
        "missing-dtype" => Raw("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public void Read_broken_file_throws_model_file_exception_naming_file_and_reason(string kind, string[] expectedInMessage)
    {
        string path = PathFor(kind + ".safetensors");
        File.WriteAllBytes(path, BrokenFile(kind));

        var ex = Assert.Throws<ModelFileException>(() => SafeTensorsFile.Read(path));

        Assert.Equal(path, ex.FileName);
        Assert.Contains(path, ex.Message);
        foreach (string phrase in expectedInMessage)
            Assert.Contains(phrase, ex.Message);
    }

    [Fact]
    public void Read_broken_file_fixtures_are_otherwise_valid()
    {
        // Guards the fixtures above: the same layouts with the one defect repaired must read.
        Assert.Single(SafeTensorsFile.Read(new MemoryStream(Raw("{" + Entry("w", "[4]", "[0,16]") + "}", F32Bytes(1, 2, 3, 4))), "x").Tensors);
        Assert.Equal(2, SafeTensorsFile.Read(new MemoryStream(Raw("{" + Entry("a", "[2]", "[0,8]") + "," + Entry("b", "[2]", "[8,16]") + "}", new byte[16])), "x").Tensors.Count);
        Assert.Equal(new[] { 2, 3 }, SafeTensorsFile.Read(new MemoryStream(Raw("{" + Entry("test", "[2,3]", "[0,24]") + "}", new byte[24])), "x")["test"].Shape);
        Assert.Equal("10", SafeTensorsFile.Read(new MemoryStream(Raw("{\"__metadata__\":{\"epochs\":\"10\"}," + Entry("w", "[1]", "[0,4]") + "}", new byte[4])), "x").Metadata["epochs"]);
        Assert.Equal(SampleTensors().Count, SafeTensorsFile.Read(new MemoryStream(ValidFileBytes()), "x").Tensors.Count);
    }

    // ------------------------------------------------------------ interop with Python (conditional)

    // Prints, for every tensor, its dtype, shape and raw float32 bits, plus the metadata, as JSON.
    private const string DumpWithNumpyOnly = """
        import json, struct, sys
        import numpy as np
        raw = open(sys.argv[1], 'rb').read()
        (n,) = struct.unpack('<Q', raw[:8])
        header = json.loads(raw[8:8 + n].decode('utf-8'))
        data = raw[8 + n:]
        out = {'__metadata__': header.pop('__metadata__', {})}
        for name, info in header.items():
            b, e = info['data_offsets']
            arr = np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape'])
            out[name] = {'dtype': info['dtype'], 'shape': list(arr.shape), 'bits': [int(x) for x in arr.ravel().view('<u4')]}
        print(json.dumps(out))
        """;

    private const string DumpWithSafetensors = """
        import json, sys
        import numpy as np
        from safetensors import safe_open
        from safetensors.numpy import load_file
        tensors = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework='np') as f:
            meta = f.metadata() or {}
        out = {'__metadata__': meta}
        for name, arr in tensors.items():
            # ravel() keeps 0-d arrays (scalars) intact, unlike ascontiguousarray, which makes them 1-d
            out[name] = {'dtype': 'F32' if arr.dtype == np.float32 else str(arr.dtype),
                         'shape': list(arr.shape), 'bits': [int(x) for x in arr.astype('<f4').ravel().view('<u4')]}
        print(json.dumps(out))
        """;

    private void AssertPythonSeesOurFile(string script)
    {
        var tensors = SampleTensors();
        string path = PathFor("for-python.safetensors");
        SafeTensorsFile.Write(path, tensors, SampleMetadata);

        using var doc = JsonDocument.Parse(Python.Run(script, path));
        var root = doc.RootElement;
        Assert.Equal(tensors.Count + 1, root.EnumerateObject().Count());
        foreach (var (key, value) in SampleMetadata)
            Assert.Equal(value, root.GetProperty("__metadata__").GetProperty(key).GetString());
        foreach (var t in tensors)
        {
            var e = root.GetProperty(t.Name);
            Assert.Equal("F32", e.GetProperty("dtype").GetString());
            Assert.Equal(t.Shape, e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()));
            Assert.Equal(t.Data.Select(BitConverter.SingleToUInt32Bits), e.GetProperty("bits").EnumerateArray().Select(x => x.GetUInt32()));
        }
    }

    [PythonFact("numpy")]
    public void Python_numpy_only_reader_reads_our_file() => AssertPythonSeesOurFile(DumpWithNumpyOnly);

    [PythonFact("safetensors.numpy")]
    public void Python_safetensors_load_file_reads_our_file() => AssertPythonSeesOurFile(DumpWithSafetensors);

    [PythonFact("safetensors.numpy")]
    public void Python_safetensors_save_file_is_read_by_our_reader()
    {
        string path = PathFor("from-python.safetensors");
        Python.Run("""
            import sys
            import numpy as np
            from safetensors.numpy import save_file
            save_file({
                'w': (np.arange(6, dtype=np.float32) / np.float32(7)).reshape(2, 3),
                'b': np.array([-1.5, 2.25], dtype=np.float32),
                's': np.array(3.5, dtype=np.float32),
                'z': np.zeros((0, 4), dtype=np.float32),
            }, sys.argv[1], metadata={'format': 'np', 'note': 'from python'})
            """, path);

        var content = SafeTensorsFile.Read(path);
        Assert.Equal(new[] { "b", "s", "w", "z" }, content.Tensors.Select(t => t.Name).Order());
        Assert.Equal(new[] { 2, 3 }, content["w"].Shape);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (float)i / 7f), content["w"].Data);
        Assert.Equal(new[] { -1.5f, 2.25f }, content["b"].Data);
        Assert.Empty(content["s"].Shape);
        Assert.Equal(new[] { 3.5f }, content["s"].Data);
        Assert.Equal(new[] { 0, 4 }, content["z"].Shape);
        Assert.Empty(content["z"].Data);
        Assert.Equal("from python", content.Metadata["note"]);
    }
}

/// <summary>Passes writes through to <c>inner</c> until <c>failAfterBytes</c> have gone by, then fails like a full disk.</summary>
internal sealed class FailingStream(Stream inner, long failAfterBytes) : Stream
{
    public long Written { get; private set; }
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Written + buffer.Length > failAfterBytes)
        {
            int allowed = (int)(failAfterBytes - Written);
            inner.Write(buffer[..allowed]);
            Written += allowed;
            throw new IOException("disk full (injected by the test)");
        }
        inner.Write(buffer);
        Written += buffer.Length;
    }
    public override void Flush() => inner.Flush();
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>A read-only stream that cannot seek, like a pipe.</summary>
internal sealed class ForwardOnlyStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes);
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => _inner.Read(buffer);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
