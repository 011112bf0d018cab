using VaeTools.IO;
using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>Get-MnistData, New-Vae, Get-VaeEncoding, New-VaeSample, Measure-ReconstructionError, Export/Import-Vae.</summary>
public sealed class CommandLogicTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vaetools-logic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly VaeConfig Config = new() { InputDim = 784, HiddenDims = new[] { 16 }, LatentDim = 2, Seed = 4 };
    private static readonly MnistDataset Data = SyntheticMnist.Create(30);

    // ---- Get-MnistData ----

    [Fact]
    public void Get_MnistData_maps_every_parameter_to_the_load_options()
    {
        MnistLoadOptions? seen = null;
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters
        {
            Subset = "test", Variant = "Fashion", Path = _dir, Classes = new[] { 3, 5 }, Count = 12, Binarize = "Threshold", NoDownload = true,
        }, (o, _) => { seen = o; return SyntheticMnist.Create(100, 1, o); }).Process(sink, CancellationToken.None);
        Assert.NotNull(seen);
        Assert.Equal((MnistSubset.Test, MnistVariant.Fashion, _dir, 12, MnistBinarization.Threshold, false),
            (seen!.Subset, seen.Variant, seen.Directory, seen.Count, seen.Binarization, seen.AllowDownload));
        Assert.Equal(new[] { 3, 5 }, seen.Classes);
        Assert.Equal(12, sink.Single<MnistDataset>().Count);
    }

    [Fact]
    public void Get_MnistData_AsImage_streams_one_object_per_image_with_its_label_and_pixels()
    {
        var data = SyntheticMnist.Create(15);
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { AsImage = true }, (_, _) => data).Process(sink, CancellationToken.None);
        var images = sink.Output.Cast<ImageRecord>().ToList();
        Assert.Equal(15, images.Count);
        var expected = data.ToTensor();
        for (int i = 0; i < 15; i++)
        {
            Assert.Equal((i, (int?)data.GetLabel(i), 28, 28), (images[i].Index, images[i].Label, images[i].Height, images[i].Width));
            Assert.Equal(expected.Row(i).ToArray(), images[i].Pixels);
            Assert.Equal(data.Pixels[i * 784 + 300] / 255f, images[i].Pixels[300]);
        }
    }

    [Fact]
    public void Get_MnistData_without_files_and_without_download_is_ObjectNotFound_naming_the_folder()
    {
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { Path = _dir, NoDownload = true }).Process(sink, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("MnistDataNotFound", ErrorKind.ObjectNotFound, (object)_dir), (e.ErrorId, e.Category, e.Target!));
        Assert.Contains(_dir, e.Message);
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains("Leave out -NoDownload", e.Message);
        Assert.DoesNotContain("MnistLoadOptions", e.Message);
        Assert.Empty(sink.Output);
    }

    [Fact]
    public void Get_MnistData_with_a_file_as_Path_says_to_give_the_folder()
    {
        string file = Path.Combine(_dir, "train-images-idx3-ubyte");
        File.WriteAllBytes(file, new byte[] { 1 });
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { Path = file, NoDownload = true }).Process(sink, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("MnistPathIsFile", ErrorKind.InvalidArgument, (object)file), (e.ErrorId, e.Category, e.Target!));
        Assert.Contains("give the folder", e.Message);
        Assert.Empty(sink.Output);
    }

    [Fact]
    public void Get_MnistData_with_damaged_files_is_InvalidData()
    {
        foreach (var name in MnistFiles.All) File.WriteAllBytes(Path.Combine(_dir, name), new byte[] { 0, 0, 8, 3, 1, 2, 3 });
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { Path = _dir, NoDownload = true }).Process(sink, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(ErrorKind.InvalidData, e.Category);
        Assert.Equal("MnistChecksumMismatch", e.ErrorId);
    }

    [Fact]
    public void Get_MnistData_with_no_source_reachable_is_ResourceUnavailable_and_reports_on_the_pipeline_thread()
    {
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { Path = _dir }, (o, ct) =>
        {
            // Only 127.0.0.1, port 9 (discard; nothing listens there), one attempt, no npm.
            o.Download!.Mirrors = new[] { "http://127.0.0.1:9/" };
            o.Download.MaxAttempts = 1;
            o.Download.UseNpmFallback = false;
            o.Download.Timeout = TimeSpan.FromSeconds(5);
            return MnistDataset.Load(o, ct);
        }).Process(sink, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("MnistDownloadFailed", ErrorKind.ResourceUnavailable), (e.ErrorId, e.Category));
        Assert.Contains(sink.Verbose, v => v.Contains("127.0.0.1"));
        Assert.Equal(new[] { sink.ThreadId }, sink.CallingThreads);
    }

    [Fact]
    public void Get_MnistData_rejects_a_subset_outside_the_set()
    {
        var sink = new RecordingSink();
        new GetMnistDataLogic(new GetMnistDataParameters { Subset = "Validation" }, (_, _) => Data).Process(sink, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(ErrorKind.InvalidArgument, e.Category);
        Assert.Contains("Train, Test", e.Message);
    }

    // ---- New-Vae ----

    [Fact]
    public void New_Vae_defaults_are_the_classic_model_with_a_recorded_fresh_seed()
    {
        var a = new RecordingSink();
        var b = new RecordingSink();
        new NewVaeLogic(new NewVaeParameters()).Process(a, null);
        new NewVaeLogic(new NewVaeParameters()).Process(b, null);
        var m = a.Single<VaeModel>();
        Assert.Equal((784, 20, Activation.Relu, Likelihood.Bernoulli, Initialization.PyTorchDefault, 1f),
            (m.Config.InputDim, m.Config.LatentDim, m.Config.Activation, m.Config.Likelihood, m.Config.Initialization, m.Config.Beta));
        Assert.Equal(new[] { 400 }, m.Config.HiddenDims);
        Assert.NotEqual(m.Config.Seed, b.Single<VaeModel>().Config.Seed);
    }

    [Fact]
    public void New_Vae_maps_its_parameters()
    {
        var sink = new RecordingSink();
        new NewVaeLogic(new NewVaeParameters { HiddenDim = new[] { 512, 256 }, LatentDim = 2, Activation = "tanh", Beta = 4, InitStd = 0.05, Seed = 9, InputDim = 100 })
            .Process(sink, null);
        var c = sink.Single<VaeModel>().Config;
        Assert.Equal((100, 2, Activation.Tanh, 4f, Initialization.Normal, 0.05f, 9UL), (c.InputDim, c.LatentDim, c.Activation, c.Beta, c.Initialization, c.InitStd, c.Seed));
        Assert.Equal(new[] { 512, 256 }, c.HiddenDims);
    }

    [Fact]
    public void New_Vae_with_an_InputDim_that_contradicts_the_piped_data_is_an_error()
    {
        var sink = new RecordingSink();
        new NewVaeLogic(new NewVaeParameters { InputDim = 100 }).Process(sink, Data);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(Data, e.Target);
    }

    [Fact]
    public void New_Vae_with_an_unknown_activation_names_the_allowed_ones()
    {
        var sink = new RecordingSink();
        new NewVaeLogic(new NewVaeParameters { Activation = "Gelu" }).Process(sink, null);
        Assert.Contains("Relu, LeakyRelu, Tanh, Elu, Softplus", Assert.Single(sink.Errors).Message);
    }

    // ---- Get-VaeEncoding ----

    private static List<object> Encode(VaeModel model, EncodingParameters p, Action<EncodingLogic, RecordingSink> feed, RecordingSink? sink = null)
    {
        sink ??= new RecordingSink();
        var logic = new EncodingLogic(model, p);
        logic.Begin(sink);
        feed(logic, sink);
        logic.End(sink);
        Assert.Empty(sink.Errors);
        return sink.Output;
    }

    [Fact]
    public void Encodings_of_a_data_set_equal_the_model_encoder_row_by_row_across_chunks()
    {
        var model = new VaeModel(Config);
        var codes = Encode(model, new EncodingParameters { ChunkSize = 7 }, (l, s) => l.ProcessData(s, Data, CancellationToken.None)).Cast<LatentCode>().ToList();
        var expected = model.Encode(Data);
        Assert.Equal(30, codes.Count);
        for (int i = 0; i < 30; i++)
        {
            Assert.Equal(expected.Mean.Row(i).ToArray(), codes[i].Mean);
            Assert.Equal(expected.LogVariance.Row(i).ToArray(), codes[i].LogVariance);
            Assert.Equal(codes[i].Mean, codes[i].Z);
        }
    }

    [Fact]
    public void AsTensor_emits_one_matrix_of_all_codes()
    {
        var model = new VaeModel(Config);
        var t = Assert.IsType<Tensor>(Assert.Single(Encode(model, new EncodingParameters { AsTensor = true, ChunkSize = 8 }, (l, s) => l.ProcessData(s, Data, CancellationToken.None))));
        Assert.Equal((30, 2), (t.Rows, t.Cols));
        Assert.Equal(model.Encode(Data).Mean.ToArray(), t.ToArray());
    }

    [Fact]
    public void Sample_draws_codes_around_the_mean_reproducibly_for_a_seed()
    {
        var model = new VaeModel(Config);
        LatentCode[] Run(ulong seed) => Encode(model, new EncodingParameters { Sample = true, Seed = seed }, (l, s) => l.ProcessData(s, Data, CancellationToken.None)).Cast<LatentCode>().ToArray();
        var a = Run(1);
        Assert.Equal(a.Select(c => c.Z), Run(1).Select(c => c.Z));
        Assert.NotEqual(a.Select(c => c.Z), Run(2).Select(c => c.Z));
        Assert.All(a, c => Assert.NotEqual(c.Mean, c.Z));
    }

    [Fact]
    public void Each_piped_image_is_encoded_before_the_next_arrives_and_matches_the_data_set_encoding()
    {
        var model = new VaeModel(Config);
        var images = Enumerable.Range(0, 10).Select(i => ImageRecord.FromDataset(Data, i, null)).ToList();
        var sink = new RecordingSink();
        var logic = new EncodingLogic(model, new EncodingParameters { ChunkSize = 4 });
        logic.Begin(sink);
        var seenAfter = new List<int>();
        foreach (var image in images) { logic.ProcessImage(sink, image); seenAfter.Add(sink.Output.Count); }
        Assert.Equal(Enumerable.Range(1, 10), seenAfter); // streamed: one input, one code, at once (was 0,0,0,4,...: collected)
        logic.End(sink);
        var codes = sink.Output.Cast<LatentCode>().ToList();
        var expected = model.Encode(Data).Mean;
        Assert.Equal(Enumerable.Range(0, 10), codes.Select(c => c.Index));
        for (int i = 0; i < 10; i++) Assert.Equal(expected.Row(i).ToArray(), codes[i].Mean);
    }

    [Fact]
    public void An_array_of_images_given_at_once_is_encoded_in_chunks_and_all_its_codes_leave_before_the_call_returns()
    {
        var model = new VaeModel(Config);
        var images = Enumerable.Range(0, 10).Select(i => ImageRecord.FromDataset(Data, i, null)).ToArray();
        var sink = new RecordingSink();
        var logic = new EncodingLogic(model, new EncodingParameters { ChunkSize = 4 });
        logic.Begin(sink);
        logic.ProcessImages(sink, images);
        Assert.Equal(10, sink.Output.Count);
        var expected = model.Encode(Data).Mean;
        var codes = sink.Output.Cast<LatentCode>().ToList();
        for (int i = 0; i < 10; i++) Assert.Equal(expected.Row(i).ToArray(), codes[i].Mean);
        logic.End(sink);
        Assert.Equal(10, sink.Output.Count);
    }

    [Fact]
    public void Debug_detail_says_how_a_data_set_is_cut_into_passes_and_what_a_model_file_holds()
    {
        var sink = new RecordingSink();
        var logic = new EncodingLogic(new VaeModel(Config), new EncodingParameters { ChunkSize = 12 });
        logic.Begin(sink);
        logic.ProcessData(sink, Data, CancellationToken.None);
        Assert.Equal(3, sink.Debug.Count(m => m.StartsWith("Encoding rows", StringComparison.Ordinal))); // 30 rows in passes of 12
        Assert.Contains(sink.Debug, m => m.Contains("rows 24..29"));
        string path = Path.Combine(_dir, "debug.safetensors");
        ModelFileLogic.Export(sink, new VaeModel(Config), path, noClobber: false, passThru: false);
        Assert.Contains(sink.Debug, m => m.Contains(new FileInfo(path).Length + " bytes") && m.Contains("\"LatentDim\":2"));
    }

    [Fact]
    public void A_latent_code_has_one_column_per_dimension_for_Z_Mu_and_LogVar_in_order()
    {
        var code = new LatentCode(7, 3, new[] { 1f, 2f, 3f }, new[] { -1f, -2f, -3f }, new[] { 10f, 20f, 30f });
        var columns = code.Columns();
        Assert.Equal(new[] { "Index", "Label", "Z1", "Z2", "Z3", "Mu1", "Mu2", "Mu3", "LogVar1", "LogVar2", "LogVar3" }, columns.Select(c => c.Key));
        Assert.Equal(new object?[] { 7, 3, 10f, 20f, 30f, 1f, 2f, 3f, -1f, -2f, -3f }, columns.Select(c => c.Value));
    }

    [Fact]
    public void An_image_of_another_width_is_an_error_and_the_others_still_encode()
    {
        var sink = new RecordingSink();
        var logic = new EncodingLogic(new VaeModel(Config), new EncodingParameters());
        logic.Begin(sink);
        var odd = new ImageRecord(0, null, new float[16], 4, 4);
        logic.ProcessImage(sink, odd);
        logic.ProcessImage(sink, ImageRecord.FromDataset(Data, 1, null));
        logic.End(sink);
        Assert.Same(odd, Assert.Single(sink.Errors).Target);
        Assert.Single(sink.Output);
    }

    [Fact]
    public void A_decoder_only_model_cannot_encode()
    {
        var logic = new EncodingLogic(new VaeModel(Config with { DecoderOnly = true }), new EncodingParameters());
        var e = Assert.Throws<CommandException>(() => logic.Begin(new RecordingSink()));
        Assert.Equal(ErrorKind.InvalidOperation, e.Error.Category);
    }

    [Fact]
    public void Encoding_stops_between_chunks_when_cancelled()
    {
        using var stop = new CancellationTokenSource();
        var sink = new RecordingSink { OnProgress = _ => stop.Cancel() };
        var logic = new EncodingLogic(new VaeModel(Config), new EncodingParameters { ChunkSize = 10 });
        logic.Begin(sink);
        logic.ProcessData(sink, Data, stop.Token);
        Assert.Equal(10, sink.Output.Count);
    }

    // ---- New-VaeSample ----

    [Fact]
    public void Samples_are_mean_images_by_default_and_binary_with_SamplePixels_and_seeded()
    {
        var model = new VaeModel(Config);
        List<ImageRecord> Run(SampleParameters p) { var s = new RecordingSink(); new SampleLogic(p).Process(s, model); return s.Output.Cast<ImageRecord>().ToList(); }
        var pixels = Run(new SampleParameters { Count = 7, Seed = 3, SamplePixels = true });
        Assert.Equal(7, pixels.Count);
        Assert.All(pixels, i => Assert.All(i.Pixels, v => Assert.True(v == 0f || v == 1f)));
        var means = Run(new SampleParameters { Count = 7, Seed = 3 });
        Assert.All(means, i => Assert.All(i.Pixels, v => Assert.InRange(v, 0f, 1f)));
        Assert.Contains(means, i => i.Pixels.Any(v => v > 0f && v < 1f));
        // -MeanImage (the old switch) asks for what is now the default.
        Assert.Equal(means.Select(i => i.Pixels), Run(new SampleParameters { Count = 7, Seed = 3, MeanImage = true }).Select(i => i.Pixels));
        var both = new RecordingSink();
        new SampleLogic(new SampleParameters { SamplePixels = true, MeanImage = true }).Process(both, model);
        Assert.Equal("AmbiguousPixels", Assert.Single(both.Errors).ErrorId);
        // The mean images are the decoder's output for the prior draws of that seed.
        var expected = model.Decode(model.SamplePrior(7, 1f, new RandomSource(3)));
        Assert.Equal(expected.Row(6).ToArray(), means[6].Pixels);
    }

    [Fact]
    public void Posterior_samples_decode_draws_around_each_image_s_code_and_lead_each_picture_row_with_the_image()
    {
        var model = new VaeModel(Config);
        var images = new RecordingSink();
        new SampleLogic(new SampleParameters { PosteriorOf = Data, Count = 4, Seed = 2, AsTensor = false }).Process(images, model);
        var samples = images.Output.Cast<ImageRecord>().ToList();
        Assert.Equal(30 * 4, samples.Count);
        Assert.Equal(Enumerable.Range(0, 30).SelectMany(i => Enumerable.Repeat(i, 4)), samples.Select(s => s.Index));
        Assert.Equal(Data.GetLabel(7), samples[7 * 4].Label);
        // Different draws of z give different images.
        Assert.NotEqual(samples[0].Pixels, samples[1].Pixels);

        // With a posterior variance of e^-40 every draw is the posterior mean: each sample is the decoded mu(x).
        model.EncoderLogVariance!.Weight.Value.Clear();
        model.EncoderLogVariance.Bias.Value.Span.Fill(-40f);
        var tight = new RecordingSink();
        new SampleLogic(new SampleParameters { PosteriorOf = Data, Count = 3, Seed = 2, AsTensor = true }).Process(tight, model);
        var decodedMeans = model.Decode(model.Encode(Data).Mean);
        var t = tight.Single<Tensor>();
        Assert.Equal((90, 784), (t.Rows, t.Cols));
        for (int i = 0; i < 30; i++)
            for (int s = 0; s < 3; s++)
                for (int j = 0; j < 784; j++)
                    Assert.True(Math.Abs(decodedMeans[i, j] - t[i * 3 + s, j]) < 1e-5f, $"image {i}, sample {s}, pixel {j}: {t[i * 3 + s, j]} vs the decoded mean {decodedMeans[i, j]}");

        // The picture: each row is the original, then its samples.
        string png = Path.Combine(_dir, "posterior.png");
        new SampleLogic(new SampleParameters { PosteriorOf = Data, Count = 3, Seed = 2, OutFile = png }).Process(new RecordingSink(), model);
        var picture = VaeTools.Imaging.PngDecoder.ReadFile(png);
        Assert.Equal(4 * 28 + 5 * 2, picture.Width);
        Assert.Equal(30 * 28 + 31 * 2, picture.Height);
        var original = new float[784];
        Data.CopyRows(new[] { 1 }, original, null);
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                Assert.Equal(VaeTools.Imaging.ImageGrid.ToByte(original[r * 28 + c]), picture.Pixels[(2 + 30 + r) * picture.Width + 2 + c]);
    }

    [Fact]
    public void Samples_AsTensor_and_OutFile_with_WhatIf()
    {
        var model = new VaeModel(Config);
        var sink = new RecordingSink();
        new SampleLogic(new SampleParameters { Count = 5, AsTensor = true }).Process(sink, model);
        Assert.Equal((5, 784), (sink.Single<Tensor>().Rows, sink.Single<Tensor>().Cols));

        string png = Path.Combine(_dir, "whatif.png");
        var whatIf = new RecordingSink { Confirm = false };
        new SampleLogic(new SampleParameters { Count = 5, OutFile = png }).Process(whatIf, model);
        Assert.False(File.Exists(png));
        Assert.Empty(whatIf.Output);
        Assert.Equal(png, Assert.Single(whatIf.ShouldProcessCalls).Target);

        var passThru = new RecordingSink();
        new SampleLogic(new SampleParameters { Count = 5, OutFile = png, PassThru = true, Columns = 5 }).Process(passThru, model);
        Assert.Equal(5, passThru.Output.Count);
        Assert.Equal(5 * 28 + 6 * 2, VaeTools.Imaging.PngDecoder.ReadFile(png).Width);
    }

    // ---- Measure-ReconstructionError ----

    [Fact]
    public void ByClass_emits_one_object_per_class_present()
    {
        var sink = new RecordingSink();
        new MeasureLogic(new MeasureParameters { ByClass = true }).Process(sink, new VaeModel(Config), Data, CancellationToken.None);
        var results = sink.Output.Cast<ReconstructionMetrics>().ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (int?)i), results.Select(r => r.Label));
        Assert.Equal(30, results.Sum(r => r.Count));
    }

    [Fact]
    public void Measuring_data_of_another_width_is_an_error_targeting_the_data()
    {
        var data = new TensorDataset(new Tensor(3, 10));
        var sink = new RecordingSink();
        new MeasureLogic(new MeasureParameters()).Process(sink, new VaeModel(Config), data, CancellationToken.None);
        var e = Assert.Single(sink.Errors);
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(data, e.Target);
    }

    // ---- Export-Vae / Import-Vae ----

    [Fact]
    public void Export_honours_WhatIf_NoClobber_and_missing_folders()
    {
        var model = new VaeModel(Config);
        string path = Path.Combine(_dir, "m.safetensors");
        ModelFileLogic.Export(new RecordingSink { Confirm = false }, model, path, false, false);
        Assert.False(File.Exists(path));

        var ok = new RecordingSink();
        ModelFileLogic.Export(ok, model, path, false, passThru: true);
        Assert.Equal(path, ok.Single<FileInfo>().FullName);

        var clobber = new RecordingSink();
        ModelFileLogic.Export(clobber, model, path, noClobber: true, passThru: false);
        Assert.Equal(("ModelFileExists", ErrorKind.ResourceExists), (Assert.Single(clobber.Errors).ErrorId, clobber.Errors[0].Category));
        Assert.Empty(clobber.ShouldProcessCalls);

        string missing = Path.Combine(_dir, "nope", "m.safetensors");
        var folder = new RecordingSink();
        ModelFileLogic.Export(folder, model, missing, false, false);
        var e = Assert.Single(folder.Errors);
        Assert.Equal((ErrorKind.ObjectNotFound, (object)missing), (e.Category, e.Target!));
    }

    [Fact]
    public void Import_of_a_missing_truncated_or_foreign_file_says_so()
    {
        string good = Path.Combine(_dir, "good.safetensors");
        ModelFile.Save(new VaeModel(Config), good);

        var missing = new RecordingSink();
        ModelFileLogic.Import(missing, Path.Combine(_dir, "absent.safetensors"));
        Assert.Equal(("ModelFileNotFound", ErrorKind.ObjectNotFound), (Assert.Single(missing.Errors).ErrorId, missing.Errors[0].Category));

        var folder = new RecordingSink();
        ModelFileLogic.Import(folder, _dir);
        Assert.Equal(("ModelPathIsFolder", ErrorKind.InvalidArgument, (object)_dir), (Assert.Single(folder.Errors).ErrorId, folder.Errors[0].Category, folder.Errors[0].Target!));
        Assert.Contains("is a folder, not a model file", folder.Errors[0].Message);

        string truncated = Path.Combine(_dir, "truncated.safetensors");
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var t = new RecordingSink();
        ModelFileLogic.Import(t, truncated);
        var te = Assert.Single(t.Errors);
        Assert.Equal(("ModelFileInvalid", ErrorKind.InvalidData, (object)truncated), (te.ErrorId, te.Category, te.Target!));
        Assert.Contains(truncated, te.Message);

        string foreign = Path.Combine(_dir, "foreign.safetensors");
        SafeTensorsFile.Write(foreign, new[] { new SafeTensor("weight", new[] { 2, 2 }, new float[4]) });
        var f = new RecordingSink();
        ModelFileLogic.Import(f, foreign);
        Assert.Equal(ErrorKind.InvalidData, Assert.Single(f.Errors).Category);
        Assert.Contains("not a VaeTools model", f.Errors[0].Message);
        Assert.Empty(f.Output);
    }

    // ---- error mapping ----

    [Fact]
    public void Exceptions_map_to_the_categories_the_issue_lists()
    {
        Assert.Equal(ErrorKind.ObjectNotFound, Errors.Categorize(new FileNotFoundException("x")));
        Assert.Equal(ErrorKind.InvalidData, Errors.Categorize(new DataFormatException("f", "bad")));
        Assert.Equal(ErrorKind.InvalidData, Errors.Categorize(new DataChecksumException("f", "a", "b")));
        Assert.Equal(ErrorKind.InvalidData, Errors.Categorize(new ModelFileException("f", "bad")));
        Assert.Equal(ErrorKind.ResourceUnavailable, Errors.Categorize(new MnistDownloadException("down", Array.Empty<string>())));
        Assert.Equal(ErrorKind.InvalidArgument, Errors.Categorize(new ShapeMismatchException("w")));
        Assert.Equal(ErrorKind.InvalidArgument, Errors.Categorize(new ArgumentOutOfRangeException("Count")));
        Assert.Equal(ErrorKind.OperationStopped, Errors.Categorize(new OperationCanceledException()));
        Assert.Equal(ErrorKind.InvalidResult, Errors.Categorize(new TrainingDivergedException("nan", 1, 1)));
        var e = Errors.From(new FileNotFoundException("x"), "Id", "target");
        Assert.Equal(("Id", "target"), (e.ErrorId, e.Target));
    }
}
