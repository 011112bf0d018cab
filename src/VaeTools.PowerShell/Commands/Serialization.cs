using System.Collections;
using System.Collections.ObjectModel;
using System.Management.Automation;
using VaeTools.PowerShell.Logic;

namespace VaeTools.PowerShell.Commands;

/// <summary>
/// The PowerShell side of <see cref="SerializedForms"/>: the getter of the hidden SerializedForm code property
/// (VaeTools.Types.ps1xml) and the rebuilding of a deserialized property bag.
/// </summary>
public static class VaeSerialization
{
    /// <summary>Getter of the SerializedForm code property the types file adds to models, data sets, images and tensors.</summary>
    public static object? GetSerializedForm(PSObject instance) => SerializedForms.Of(instance?.BaseObject);

    /// <summary>
    /// <paramref name="value"/> itself, or the live object when it is a deserialized VaeTools object (an array or list of
    /// them element by element) and, when <paramref name="target"/> is given, one assignable to it.
    /// </summary>
    /// <exception cref="CommandException">A deserialized VaeTools object that does not carry its content.</exception>
    public static object? Restore(object? value, Type? target = null)
    {
        if (value is PSObject ps && ps.BaseObject is not PSCustomObject && ps.BaseObject is IList && ps.BaseObject is not string)
            value = ps.BaseObject;
        if (value is IList list && value is not PSObject)
        {
            var element = target?.IsArray == true ? target.GetElementType() : target;
            bool changed = false;
            var restored = new object?[list.Count];
            for (int i = 0; i < list.Count; i++)
            {
                restored[i] = Restore(list[i], element);
                changed |= !ReferenceEquals(restored[i], list[i]);
            }
            return changed ? restored : value;
        }
        if (value is not PSObject bag) return value;
        var type = SerializedForms.DeserializedType(bag.TypeNames);
        if (type is null || (target is not null && !target.IsAssignableFrom(type) && !(target.IsArray && target.GetElementType()!.IsAssignableFrom(type))))
            return value;
        return SerializedForms.Restore(bag.TypeNames, name => bag.Properties[name]?.Value, Unwrap) ?? value;
    }

    /// <summary>Whether <paramref name="value"/> is a deserialized VaeTools object that can become a <paramref name="target"/>.</summary>
    public static bool CanRestore(object? value, Type target) =>
        value is PSObject bag && SerializedForms.DeserializedType(bag.TypeNames) is { } type && target.IsAssignableFrom(type);

    private static object? Unwrap(object? value) => value is PSObject ps && ps.BaseObject is not PSCustomObject ? ps.BaseObject : value;
}

/// <summary>
/// The type converter the types file registers for the VaeTools types: turns a deserialized property bag
/// (Deserialized.VaeTools.Model.VaeModel, ...) back into the live object, when PowerShell deserializes
/// (TargetTypeForDeserialization) and when a parameter of that type is bound.
/// </summary>
public sealed class VaeTypeConverter : PSTypeConverter
{
    public override bool CanConvertFrom(object sourceValue, Type destinationType) => VaeSerialization.CanRestore(sourceValue, destinationType);

    public override object ConvertFrom(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase)
    {
        try
        {
            var restored = VaeSerialization.Restore(sourceValue, destinationType);
            if (restored is not null && destinationType.IsInstanceOfType(restored)) return restored;
        }
        catch (CommandException e)
        {
            throw new PSInvalidCastException(e.Message, e.InnerException ?? e);
        }
        throw new PSInvalidCastException($"Cannot convert '{sourceValue}' to {destinationType.FullName}.");
    }

    public override bool CanConvertTo(object sourceValue, Type destinationType) => false;

    public override object ConvertTo(object sourceValue, Type destinationType, IFormatProvider formatProvider, bool ignoreCase) =>
        throw new PSInvalidCastException($"Cannot convert '{sourceValue}' to {destinationType.FullName}.");
}

/// <summary>
/// On every -Model / -Data / -Image parameter: a model, data set or image that crossed a process boundary (Start-Job,
/// Import-Clixml) arrives as a Deserialized.VaeTools.* property bag; this turns it back into the live object of the
/// parameter's type, so <c>Start-Job { ... } | Receive-Job</c> results, -ArgumentList and $using: values bind.
/// Values of other types pass through unchanged (so pipeline binding still picks the right parameter).
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class DeserializedVaeObjectAttribute : ArgumentTransformationAttribute
{
    public DeserializedVaeObjectAttribute(Type target) => Target = target;

    /// <summary>The parameter's type (or its element type).</summary>
    public Type Target { get; }

    /// <summary>
    /// The parameter also takes tensors (see <see cref="TensorInput"/>): on a data set parameter an image tensor [N x D] (a
    /// managed tensor or a TorchSharp one) becomes a data set; on a <see cref="LatentInput"/> parameter a code tensor
    /// [N x P] or code objects become latent codes. The value is the parameter's name, for the errors.
    /// </summary>
    public string? Tensors { get; set; }

    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        try
        {
            // A tensor-taking parameter restores any VaeTools object (a tensor that came back from a job, too), then converts tensors.
            var restored = VaeSerialization.Restore(inputData, Tensors is null ? Target : null);
            if (Tensors is null) return restored;
            object? value = restored is PSObject ps && ps.BaseObject is not PSCustomObject ? ps.BaseObject : restored;
            if (Target == typeof(LatentInput))
            {
                if (value is IList list && value is not LatentInput) // code objects bound at once (-Latent $codes)
                {
                    var items = new object?[list.Count];
                    for (int i = 0; i < list.Count; i++) items[i] = list[i] is PSObject p ? p.BaseObject : list[i];
                    value = items;
                }
                return (object?)TensorInput.ToLatent(value, Tensors) ?? restored;
            }
            return (object?)TensorInput.ToDataset(value, Tensors) ?? restored;
        }
        catch (CommandException e)
        {
            throw new ArgumentTransformationMetadataException(e.Message, e.InnerException ?? e);
        }
    }
}

/// <summary>
/// The properties PowerShell sees on a <see cref="LatentCode"/> (registered as its type adapter in VaeTools.Types.ps1xml):
/// the flat columns Index, Label, Z1..ZP, Mu1..MuP, LogVar1..LogVarP for any latent size P (what Get-Member,
/// Format-List, Export-Csv and serialization list), and by name also the arrays Mean, LogVariance and Z
/// (<c>$code.Z</c>), which are not listed so that Export-Csv writes no "System.Single[]" column. Nothing is added per
/// object: the columns are read from the code when asked for.
/// </summary>
public sealed class LatentCodeAdapter : PSPropertyAdapter
{
    private static readonly string[] Arrays = { nameof(LatentCode.Mean), nameof(LatentCode.LogVariance), nameof(LatentCode.Z) };

    public override Collection<PSAdaptedProperty> GetProperties(object baseObject)
    {
        var code = (LatentCode)baseObject;
        var list = new Collection<PSAdaptedProperty>();
        foreach (var (name, _) in code.Columns()) list.Add(new PSAdaptedProperty(name, name));
        return list;
    }

    public override PSAdaptedProperty? GetProperty(object baseObject, string propertyName)
    {
        var code = (LatentCode)baseObject;
        if (Arrays.FirstOrDefault(a => a.Equals(propertyName, StringComparison.OrdinalIgnoreCase)) is { } array)
            return new PSAdaptedProperty(array, array);
        return Column(code, propertyName) is { } name ? new PSAdaptedProperty(name, name) : null;
    }

    public override object? GetPropertyValue(PSAdaptedProperty adaptedProperty)
    {
        var code = (LatentCode)adaptedProperty.BaseObject;
        string name = (string)adaptedProperty.Tag;
        switch (name)
        {
            case nameof(LatentCode.Mean): return code.Mean;
            case nameof(LatentCode.LogVariance): return code.LogVariance;
            case nameof(LatentCode.Z): return code.Z;
            case nameof(LatentCode.Index): return code.Index;
            case nameof(LatentCode.Label): return code.Label;
        }
        var (array, k) = Parse(name);
        return array![k];

        (float[]? Array, int K) Parse(string n) =>
            n.StartsWith("LogVar", StringComparison.Ordinal) ? (code.LogVariance, int.Parse(n.AsSpan(6)) - 1)
            : n.StartsWith("Mu", StringComparison.Ordinal) ? (code.Mean, int.Parse(n.AsSpan(2)) - 1)
            : (code.Z, int.Parse(n.AsSpan(1)) - 1);
    }

    public override string GetPropertyTypeName(PSAdaptedProperty adaptedProperty) => (string)adaptedProperty.Tag switch
    {
        nameof(LatentCode.Mean) or nameof(LatentCode.LogVariance) or nameof(LatentCode.Z) => typeof(float[]).FullName!,
        nameof(LatentCode.Index) => typeof(int).FullName!,
        nameof(LatentCode.Label) => typeof(int?).ToString(),
        _ => typeof(float).FullName!,
    };

    public override bool IsGettable(PSAdaptedProperty adaptedProperty) => true;

    public override bool IsSettable(PSAdaptedProperty adaptedProperty) => false;

    public override void SetPropertyValue(PSAdaptedProperty adaptedProperty, object value) =>
        throw new SetValueException($"The {adaptedProperty.Name} of a latent code cannot be changed.");

    /// <summary>The canonical name of column <paramref name="name"/> (any case) of <paramref name="code"/>, or null.</summary>
    private static string? Column(LatentCode code, string name)
    {
        if (name.Equals(nameof(LatentCode.Index), StringComparison.OrdinalIgnoreCase)) return nameof(LatentCode.Index);
        if (name.Equals(nameof(LatentCode.Label), StringComparison.OrdinalIgnoreCase)) return nameof(LatentCode.Label);
        foreach (var (prefix, length) in new[] { ("LogVar", code.LogVariance.Length), ("Mu", code.Mean.Length), ("Z", code.Z.Length) })
        {
            if (!name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) continue;
            var digits = name.AsSpan(prefix.Length);
            if (digits.Length > 0 && digits[0] != '0' && int.TryParse(digits, System.Globalization.NumberStyles.None, null, out int k) && k >= 1 && k <= length)
                return prefix + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return null;
        }
        return null;
    }
}
