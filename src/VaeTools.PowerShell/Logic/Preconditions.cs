using VaeTools.Data;
using VaeTools.Engine;
using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>
/// The checks several cmdlets make before they use a model on data, each built in this one place: one error id, one
/// category, the same target object and one wording that names the parameter the value came from.
/// </summary>
/// <remarks>
/// One error style for all logic classes: a failed precondition throws a <see cref="CommandException"/>. Where it is
/// caught decides what PowerShell sees, by what the problem spoils. A problem with one pipeline item (a model or data
/// set piped in, with the call's other parameters) is caught by the logic's entry point for that item and written as a
/// non-terminating error, so the next item goes on (<c>-ErrorAction Stop</c> still stops). A problem with the whole call
/// (Get-VaeEncoding's -Model, checked once in BeginProcessing) is not caught: the cmdlet's Run turns it into a
/// terminating error.
/// </remarks>
public static class Preconditions
{
    /// <summary>Error id of every width check: data, an image or a code does not fit the model or the other data.</summary>
    public const string WidthMismatch = "WidthMismatch";

    /// <summary>Error id of using a decoder-only model where an encoder is needed.</summary>
    public const string DecoderOnlyModel = "DecoderOnlyModel";

    /// <summary>
    /// <paramref name="data"/>, given as -<paramref name="parameter"/>, has the model's input width; otherwise
    /// WidthMismatch, InvalidArgument, targeting the data.
    /// </summary>
    public static void RequireInputWidth(VaeModel model, IDataset data, string parameter) =>
        RequireInputWidth(model, data.Features, data, parameter, data.Description);

    /// <summary>
    /// Images of <paramref name="width"/> values, given as -<paramref name="parameter"/> (<paramref name="description"/>),
    /// fit the model's input; otherwise WidthMismatch, InvalidArgument, targeting <paramref name="target"/>.
    /// </summary>
    public static void RequireInputWidth(VaeModel model, int width, object target, string parameter, string description)
    {
        int takes = model.Config.InputDim;
        if (width == takes) return;
        throw Fail(WidthMismatch, ErrorKind.InvalidArgument, target, new ShapeMismatchException(
            $"-{parameter} ({description}) has images of {width} values, but the model ({model.Config}) takes {takes}. " +
            $"Give images of {takes} values (a model made from a data set, … | New-Vae, takes that set's width)."));
    }

    /// <summary>
    /// <paramref name="data"/> (-<paramref name="parameter"/>) and <paramref name="other"/> (-<paramref name="otherParameter"/>)
    /// have images of the same width; otherwise WidthMismatch, InvalidArgument, targeting <paramref name="data"/>.
    /// </summary>
    public static void RequireSameWidth(IDataset data, string parameter, IDataset other, string otherParameter)
    {
        if (data.Features == other.Features) return;
        throw Fail(WidthMismatch, ErrorKind.InvalidArgument, data, new ShapeMismatchException(
            $"-{parameter} ({data.Description}) has images of {data.Features} values, but -{otherParameter} ({other.Description}) " +
            $"has images of {other.Features}. Both must have the same width."));
    }

    /// <summary>
    /// The model's -InputDim <paramref name="inputDim"/> agrees with the data piped in as -Data; otherwise WidthMismatch,
    /// InvalidArgument, targeting the data.
    /// </summary>
    public static void RequireInputDim(int inputDim, IDataset data)
    {
        if (inputDim == data.Features) return;
        throw Fail(WidthMismatch, ErrorKind.InvalidArgument, data, new ShapeMismatchException(
            $"-InputDim {inputDim} does not match -Data ({data.Description}), whose images have {data.Features} values. " +
            "Leave -InputDim out to size the model to the data."));
    }

    /// <summary>
    /// A code given as -<paramref name="parameter"/> has the model's latent width; otherwise WidthMismatch,
    /// InvalidArgument, targeting the code.
    /// </summary>
    public static void RequireLatentWidth(VaeModel model, LatentCode code, string parameter)
    {
        int has = model.Config.LatentDim;
        if (code.Z.Length == has) return;
        throw Fail(WidthMismatch, ErrorKind.InvalidArgument, code, new ShapeMismatchException(
            $"-{parameter} is a code of {code.Z.Length} dimensions, but the model ({model.Config}) has {has}. " +
            "Give a code of this model (Get-VaeEncoding -Model with the same model)."));
    }

    /// <summary>
    /// Latent codes of <paramref name="cols"/> values each fit the model's latent width; otherwise WidthMismatch,
    /// InvalidArgument, targeting <paramref name="target"/>. <paramref name="description"/> names the parameter and
    /// what was given ("-Latent tensor [4 x 5]").
    /// </summary>
    public static void RequireLatentWidth(VaeModel model, int cols, object target, string description)
    {
        int p = model.Config.LatentDim;
        if (cols == p) return;
        throw Fail(WidthMismatch, ErrorKind.InvalidArgument, target, new ShapeMismatchException(
            $"{description} holds codes of {cols} values, but the model ({model.Config}) has {p} latent dimensions: expected [N x {p}]."));
    }

    /// <summary>
    /// The model (-Model) has an encoder; otherwise DecoderOnlyModel, InvalidOperation, targeting the model.
    /// <paramref name="so"/> says what cannot be done without one ("it cannot encode images").
    /// </summary>
    public static void RequireEncoder(VaeModel model, string so)
    {
        if (!model.Config.DecoderOnly) return;
        throw Fail(DecoderOnlyModel, ErrorKind.InvalidOperation, model, new InvalidOperationException(
            $"-Model ({model.Config}) is decoder-only (New-Vae -DecoderOnly): it has no encoder, so {so}."));
    }

    private static CommandException Fail(string id, ErrorKind kind, object target, Exception e) => new(new CommandError(id, kind, target, e));
}
