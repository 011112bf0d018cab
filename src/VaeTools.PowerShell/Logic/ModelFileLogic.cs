using VaeTools.Model;

namespace VaeTools.PowerShell.Logic;

/// <summary>Export-Vae and Import-Vae: <see cref="ModelFile"/> with ShouldProcess, -NoClobber and error records.</summary>
public static class ModelFileLogic
{
    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (resolved) atomically.</summary>
    public static void Export(ICommandSink sink, VaeModel? model, string path, bool noClobber, bool passThru)
    {
        if (model is null)
        {
            sink.WriteError(new CommandError("MissingModel", ErrorKind.InvalidArgument, null, new ArgumentException("-Model is required.", "Model")));
            return;
        }
        if (noClobber && File.Exists(path))
        {
            sink.WriteError(new CommandError("ModelFileExists", ErrorKind.ResourceExists, path,
                new IOException($"'{path}' already exists and -NoClobber was given. Remove -NoClobber to overwrite it.")));
            return;
        }
        if (!sink.ShouldProcess(path, $"Write the model ({model.Config}, {model.ParameterCount} parameters, {model.History.Count} epochs) as safetensors"))
            return;
        try
        {
            model.Backend?.SyncToModel(model); // the Torch engine's live weights
            ModelFile.Save(model, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            sink.WriteError(Errors.From(e, e is DirectoryNotFoundException ? "ModelFolderNotFound" : "ModelFileWriteFailed", path));
            return;
        }
        sink.WriteVerbose($"Wrote '{path}'.");
        sink.WriteDebug($"'{path}': {new FileInfo(path).Length} bytes, {model.Parameters.Count} tensors, config {model.Config.ToJson()}.");
        if (passThru) sink.WriteObject(new FileInfo(path));
    }

    /// <summary>Reads the model file at <paramref name="path"/> (resolved) and emits the model.</summary>
    public static void Import(ICommandSink sink, string path, string? engine = null, string? device = null)
    {
        if (Directory.Exists(path))
        {
            sink.WriteError(new CommandError("ModelPathIsFolder", ErrorKind.InvalidArgument, path,
                new ArgumentException($"'{path}' is a folder, not a model file. To read every model in it: Get-ChildItem '{path}' -Filter *.safetensors | Import-Vae.", "Path")));
            return;
        }
        var (eng, dev) = EngineLogic.Resolve(engine, device);
        VaeModel model;
        try
        {
            model = ModelFile.Load(path);
        }
        catch (FileNotFoundException e)
        {
            sink.WriteError(new CommandError("ModelFileNotFound", ErrorKind.ObjectNotFound, path, e));
            return;
        }
        catch (ModelFileException e)
        {
            sink.WriteError(new CommandError("ModelFileInvalid", ErrorKind.InvalidData, path, e));
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            sink.WriteError(Errors.From(e, "ModelFileUnreadable", path) with { Category = ErrorKind.ResourceUnavailable });
            return;
        }
        EngineLogic.Apply(model, eng, dev);
        sink.WriteVerbose($"Read {model} from '{path}'.");
        sink.WriteDebug($"'{path}': {new FileInfo(path).Length} bytes, {model.Parameters.Count} tensors, config {model.Config.ToJson()}.");
        sink.WriteObject(model);
    }
}
