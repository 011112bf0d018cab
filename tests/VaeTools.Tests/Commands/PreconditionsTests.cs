using System.Text.RegularExpressions;
using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;
using VaeTools.PowerShell;
using VaeTools.PowerShell.Logic;

namespace VaeTools.Tests.Commands;

/// <summary>
/// Each shared precondition's error, once, at the helper: id, category, target object and a message that names the
/// parameter. The cmdlet-level tests (CommandLogicTests, ToolkitLogicTests, TrainingLogicTests, tests/pester Contract)
/// check that each cmdlet reports it, terminating or not.
/// </summary>
public class PreconditionsTests
{
    private static readonly VaeModel Model = new(new VaeConfig { InputDim = 784, HiddenDims = new[] { 8 }, LatentDim = 2, Seed = 1 });
    private static readonly TensorDataset Narrow = new(new Tensor(5, 16), labels: null, "five narrow rows");

    private static CommandError Failure(Action check)
    {
        var e = Assert.Throws<CommandException>(check).Error;
        // The category is the one the exception would be given anywhere else in the module.
        Assert.Equal(Errors.Categorize(e.Exception), e.Category);
        Assert.DoesNotContain("(Parameter '", e.Message); // no C# parameter names
        return e;
    }

    [Fact]
    public void Data_of_another_width_names_the_parameter_its_images_and_the_models_width()
    {
        var e = Failure(() => Preconditions.RequireInputWidth(Model, Narrow, "ValidationData"));
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(Narrow, e.Target);
        Assert.IsType<ShapeMismatchException>(e.Exception);
        Assert.StartsWith("-ValidationData (five narrow rows) has images of 16 values, but the model (784-8-2 ", e.Message);
        Assert.Contains(") takes 784. Give images of 784 values", e.Message);

        Preconditions.RequireInputWidth(Model, new TensorDataset(new Tensor(2, 784)), "Data"); // the right width passes
    }

    [Fact]
    public void An_image_of_another_width_targets_the_image()
    {
        var image = new object();
        var e = Failure(() => Preconditions.RequireInputWidth(Model, 16, image, "Image", "image 7"));
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(image, e.Target);
        Assert.StartsWith("-Image (image 7) has images of 16 values, but the model (", e.Message);
        Preconditions.RequireInputWidth(Model, 784, image, "Image", "image 7");
    }

    [Fact]
    public void Two_data_sets_of_different_widths_name_both_parameters()
    {
        var wide = new TensorDataset(new Tensor(3, 784), labels: null, "three wide rows");
        var e = Failure(() => Preconditions.RequireSameWidth(wide, "Data", Narrow, "MeanImageOf"));
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(wide, e.Target);
        Assert.Equal("-Data (three wide rows) has images of 784 values, but -MeanImageOf (five narrow rows) has images of 16. Both must have the same width.", e.Message);
        Preconditions.RequireSameWidth(Narrow, "Data", new TensorDataset(new Tensor(1, 16)), "MeanImageOf");
    }

    [Fact]
    public void An_InputDim_against_the_piped_data_names_InputDim_and_the_data()
    {
        var e = Failure(() => Preconditions.RequireInputDim(100, Narrow));
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(Narrow, e.Target);
        Assert.Equal("-InputDim 100 does not match -Data (five narrow rows), whose images have 16 values. Leave -InputDim out to size the model to the data.", e.Message);
        Preconditions.RequireInputDim(16, Narrow);
    }

    [Fact]
    public void A_code_of_another_latent_width_targets_the_code()
    {
        var code = new LatentCode(0, null, new float[3], new float[3], new float[3]);
        var e = Failure(() => Preconditions.RequireLatentWidth(Model, code, "From"));
        Assert.Equal(("WidthMismatch", ErrorKind.InvalidArgument), (e.ErrorId, e.Category));
        Assert.Same(code, e.Target);
        Assert.Matches(new Regex(@"^-From is a code of 3 dimensions, but the model \(784-8-2 [^)]*\) has 2\. "), e.Message);
        Preconditions.RequireLatentWidth(Model, new LatentCode(0, null, new float[2], new float[2], new float[2]), "From");
    }

    [Fact]
    public void A_decoder_only_model_is_InvalidOperation_targeting_the_model_and_says_what_it_cannot_do()
    {
        var decoderOnly = new VaeModel(Model.Config with { DecoderOnly = true });
        var e = Failure(() => Preconditions.RequireEncoder(decoderOnly, "it cannot encode images"));
        Assert.Equal(("DecoderOnlyModel", ErrorKind.InvalidOperation), (e.ErrorId, e.Category));
        Assert.Same(decoderOnly, e.Target);
        Assert.IsType<InvalidOperationException>(e.Exception);
        Assert.Equal($"-Model ({decoderOnly.Config}) is decoder-only (New-Vae -DecoderOnly): it has no encoder, so it cannot encode images.", e.Message);
        Preconditions.RequireEncoder(Model, "it cannot encode images");
    }

    [Fact]
    public void No_logic_class_builds_these_errors_itself()
    {
        // One rule, one place: the ids appear in Logic/ only in Preconditions.cs.
        string logic = Path.Combine(CmdletMetadata.RepositoryRoot, "src", "VaeTools.PowerShell", "Logic");
        var elsewhere = Directory.GetFiles(logic, "*.cs")
            .Where(f => Path.GetFileName(f) != "Preconditions.cs")
            .Where(f => File.ReadAllText(f) is var text && (text.Contains("\"WidthMismatch\"") || text.Contains("\"DecoderOnlyModel\"")))
            .Select(Path.GetFileName);
        Assert.Empty(elsewhere);
    }
}
