using VaeTools.Analysis;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Imaging;
using VaeTools.Model;
using VaeTools.PowerShell;
using VaeTools.PowerShell.Logic;
using VaeTools.Tests.Data;

namespace VaeTools.Tests.Commands;

/// <summary>Get-Cifar10Data, and colour images through New-Vae, New-VaeSample, Export-VaePlot and the model file.</summary>
public sealed class Cifar10LogicTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Cifar10Dataset LoadSynthetic(string directory, Cifar10LoadOptions options, int records)
    {
        options.Directory = directory;
        options.RecordsPerBatch = records;
        return Cifar10Dataset.Load(options);
    }

    [Fact]
    public void Parameters_map_to_the_load_options_and_AsImage_streams_colour_images()
    {
        SyntheticCifar.WriteFolder(_dir.Path, 20, new[] { Cifar10Files.TestBatch });
        var seen = new List<Cifar10LoadOptions>();
        var sink = new RecordingSink();
        new GetCifar10DataLogic(new GetCifar10DataParameters { Subset = "Test", Path = "/some/where", Classes = new[] { 3 }, Count = 2, NoDownload = true, AsImage = true },
            (o, _) =>
            {
                seen.Add(o);
                Assert.Equal(("/some/where", MnistSubset.Test, 2, false), (o.Directory, o.Subset, o.Count, o.AllowDownload));
                Assert.Equal(new[] { 3 }, o.Classes);
                return LoadSynthetic(_dir.Path, o, 20);
            }).Process(sink, CancellationToken.None);
        Assert.Empty(sink.Errors);
        Assert.Single(seen);
        var images = sink.Output.Cast<ImageRecord>().ToList();
        // test_batch (seed 6) has label (6 + r) % 10: class 3 at records 7 and 17.
        Assert.Equal(2, images.Count);
        Assert.All(images, i => Assert.Equal((3, 32, 32, 3072, 3), (i.Channels, i.Height, i.Width, i.Pixels.Length, i.Label!.Value)));
        Assert.Equal(SyntheticCifar.Pixel(7, 2, 5, 9, 6) / 255f, images[0].Pixels[2048 + 5 * 32 + 9]);
        Assert.Equal(SyntheticCifar.Pixel(17, 0, 31, 0, 6) / 255f, images[1].Pixels[31 * 32]);
    }

    [Fact]
    public void Errors_carry_ids_categories_and_the_path()
    {
        CommandError Run(string path)
        {
            var sink = new RecordingSink();
            new GetCifar10DataLogic(new GetCifar10DataParameters { Subset = "Test", Path = path, NoDownload = true }).Process(sink, CancellationToken.None);
            Assert.Empty(sink.Output);
            return Assert.Single(sink.Errors);
        }
        var e = Run(_dir.Path);
        Assert.Equal(("Cifar10DataNotFound", ErrorKind.ObjectNotFound, (object)_dir.Path), (e.ErrorId, e.Category, e.Target));
        Assert.Contains("To supply CIFAR-10 by hand", e.Exception.Message);

        _dir.Write(Cifar10Files.ArchiveName, SyntheticCifar.Archive(3));
        e = Run(_dir.Path);
        Assert.Equal(("Cifar10ChecksumMismatch", ErrorKind.InvalidData), (e.ErrorId, e.Category));

        using var other = new TempDir();
        SyntheticCifar.WriteFolder(other.Path, 3, new[] { Cifar10Files.TestBatch }); // 3 records, not 10,000
        e = Run(other.Path);
        Assert.Equal(("Cifar10DataInvalid", ErrorKind.InvalidData), (e.ErrorId, e.Category));
        Assert.Contains(Cifar10Files.TestBatch, e.Exception.Message);
    }

    [Fact]
    public void A_failed_download_is_ResourceUnavailable_like_mnist()
    {
        Assert.Equal(ErrorKind.ResourceUnavailable, Errors.Categorize(new DataDownloadException("down", Array.Empty<string>())));
        Assert.Equal(ErrorKind.ResourceUnavailable, Errors.Categorize(new MnistDownloadException("down", Array.Empty<string>())));
    }

    /// <summary>A small colour data set: 3 x 6 x 5 images, the red plane bright in even rows, blue in odd.</summary>
    private static TensorDataset ColourData(int n)
    {
        var t = new Tensor(n, 90);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 30; j++)
            {
                t[i, (i % 2 == 0 ? 0 : 60) + j] = 0.9f;
                t[i, 30 + j] = 0.2f;
            }
        return new TensorDataset(t, Enumerable.Range(0, n).Select(i => i % 2).ToArray(), "colour toy") { ImageShape = new ImageShape(3, 6, 5) };
    }

    private static VaeModel NewVae(IDataset data)
    {
        var sink = new RecordingSink();
        new NewVaeLogic(new NewVaeParameters { LatentDim = 2, HiddenDim = new[] { 16 }, Seed = 5 }).Process(sink, data);
        Assert.Empty(sink.Errors);
        return sink.Single<VaeModel>();
    }

    [Fact]
    public void A_model_made_from_a_data_set_keeps_its_image_shape_through_the_model_file()
    {
        var model = NewVae(ColourData(4));
        Assert.Equal(new ImageShape(3, 6, 5), model.Config.ImageShape);
        string path = _dir.File("colour.safetensors");
        ModelFile.Save(model, path);
        Assert.Equal(new ImageShape(3, 6, 5), ModelFile.Load(path).Config.ImageShape);

        // Models without a data set, and files from before the shape existed, have none; 784 inputs mean 1 x 28 x 28.
        var plain = new VaeConfig { InputDim = 784 };
        Assert.DoesNotContain("ImageShape", plain.ToJson());
        Assert.Null(VaeConfig.FromJson(plain.ToJson()).ImageShape);
        Assert.Equal(new ImageShape(1, 28, 28), plain.GetImageShape());
        Assert.Null(new VaeConfig { InputDim = 90 }.GetImageShape());
        var bad = Assert.Throws<ArgumentException>(() => new VaeConfig { InputDim = 91, ImageShape = new ImageShape(3, 6, 5) }.Validate());
        Assert.Contains("ImageShape is 3x6x5", bad.Message);
        // A file whose shape is impossible or does not fit its width is refused, saying so.
        string json = new VaeConfig { InputDim = 90, ImageShape = new ImageShape(3, 6, 5) }.ToJson();
        Assert.Contains("\"ImageShape\":{\"Channels\":3,\"Height\":6,\"Width\":5}", json);
        Assert.ThrowsAny<ArgumentException>(() => VaeConfig.FromJson(json.Replace("\"Channels\":3", "\"Channels\":2")));
        var wide = Assert.ThrowsAny<ArgumentException>(() => VaeConfig.FromJson(json.Replace("\"Width\":5", "\"Width\":6")));
        Assert.Contains("ImageShape", wide.Message);
        // MNIST's own shape comes along too.
        Assert.Equal(new ImageShape(1, 28, 28), SyntheticMnist.Create(3, 1).ImageShape);
    }

    [Fact]
    public void Sample_grids_are_drawn_in_colour_from_the_decoder_means()
    {
        var data = ColourData(20);
        var model = NewVae(data);
        var train = new RecordingSink();
        new TrainingLogic(new TrainingParameters { Epochs = 2, BatchSize = 10, ThrottleLimit = 1 }).Process(train, model, data, CancellationToken.None);
        Assert.Empty(train.Errors);

        string png = _dir.File("grid.png");
        var sink = new RecordingSink();
        new SampleLogic(new SampleParameters { Grid = 3, Range = new[] { -1.0, 1, -1, 1 }, OutFile = png, PassThru = true }).Process(sink, model);
        Assert.Empty(sink.Errors);
        var emitted = sink.Output.Cast<ImageRecord>().ToList();
        Assert.Equal(9, emitted.Count);
        Assert.All(emitted, i => Assert.Equal((3, 6, 5), (i.Channels, i.Height, i.Width)));

        // Independently: decode the same grid and place pixel (plane ch, row r, column c) of tile k by hand.
        var means = model.Decode(LatentAnalysis.Grid2D(3, -1, 1, -1, 1));
        var picture = PngDecoder.ReadFile(png);
        Assert.Equal(PixelFormat.Rgb24, picture.Format);
        Assert.Equal((2 + 3 * (5 + 2), 2 + 3 * (6 + 2)), (picture.Width, picture.Height));
        for (int k = 0; k < 9; k++)
            for (int ch = 0; ch < 3; ch++)
                foreach (var (r, c) in new[] { (0, 0), (5, 4), (2, 3) })
                {
                    float v = means[k, ch * 30 + r * 5 + c];
                    byte expected = (byte)(Math.Clamp(v, 0f, 1f) * 255f + 0.5f);
                    Assert.Equal(expected, picture[2 + (k / 3) * 8 + r, 2 + (k % 3) * 7 + c, ch]);
                }
        // The planes differ (the model learnt red-or-blue images with a dim green plane), so this is colour, not grey.
        Assert.Contains(Enumerable.Range(0, 9), k => Math.Abs(means[k, 0] - means[k, 30]) > 0.1f);
    }

    [Fact]
    public void Reconstruction_and_sample_plots_are_colour_pictures()
    {
        var data = ColourData(6);
        var model = NewVae(data);
        foreach (var kind in new[] { "Reconstruction", "Samples" })
        {
            string path = _dir.File(kind + ".png");
            var sink = new RecordingSink();
            new PlotLogic(new PlotParameters { Kind = kind, Path = path, Data = data, Count = 4, Seed = 1 }).Process(sink, model, CancellationToken.None);
            Assert.Empty(sink.Errors);
            var picture = PngDecoder.ReadFile(path);
            Assert.Equal(PixelFormat.Rgb24, picture.Format);
        }
        // The first original (red plane 0.9, green 0.2, blue 0) sits at (2, 2) of the reconstruction picture.
        var pairs = PngDecoder.ReadFile(_dir.File("Reconstruction.png"));
        Assert.Equal((230, 51, 0), (pairs[2, 2, 0], pairs[2, 2, 1], pairs[2, 2, 2]));
        Assert.Equal((230, 51, 0), (pairs[7, 6, 0], pairs[7, 6, 1], pairs[7, 6, 2]));
    }
}
