using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Cairn.ML.Models;

/// <summary>
/// The <c>MLmodel</c> file of a model package, in MLflow's format: artifact path, flavors, signature, input example,
/// creation time, run id and model uuid. Flavors are kept as raw YAML maps so the ones Cairn does not know
/// (<c>python_function</c>, <c>sklearn</c>, ...) survive a round trip.
/// </summary>
public sealed class ModelManifest
{
    public const string FileName = "MLmodel";
    public const string MlNetFlavor = "mlnet";
    public const string OnnxFlavor = "onnx";

    public string ArtifactPath { get; set; } = "model";

    /// <summary>Flavor name → its settings (string keys; values are strings, numbers, lists or nested maps).</summary>
    public Dictionary<string, Dictionary<string, object?>> Flavors { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<ColumnSpec> Inputs { get; set; } = [];

    public IReadOnlyList<ColumnSpec> Outputs { get; set; } = [];

    /// <summary>The input example file (MLflow's <c>saved_input_example_info.artifact_path</c>), or null.</summary>
    public string? InputExample { get; set; }

    public DateTime UtcTimeCreated { get; set; } = DateTime.UtcNow;

    public string? RunId { get; set; }

    public string ModelUuid { get; set; } = Guid.NewGuid().ToString("N");

    /// <summary>Cairn's own extra fields, written under <c>metadata</c> (MLflow's free-form map).</summary>
    public Dictionary<string, object?> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>A flavor setting as a string, or null.</summary>
    public string? FlavorValue(string flavor, string key) =>
        Flavors.TryGetValue(flavor, out var settings) && settings.TryGetValue(key, out var value) && value is not null
            ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;

    /// <summary>Reads <c>MLmodel</c> from <paramref name="folder"/>; errors name the file.</summary>
    public static ModelManifest Load(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new ResourceDoesNotExistException($"'{folder}' is not a model package: it has no {FileName} file.");
        Dictionary<object, object?> root;
        try
        {
            root = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object?>>(File.ReadAllText(path)) ?? [];
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidParameterValueException($"Invalid {path}: {e.Message}");
        }
        var manifest = new ModelManifest
        {
            ArtifactPath = Text(root, "artifact_path") ?? "model",
            RunId = Text(root, "run_id"),
            ModelUuid = Text(root, "model_uuid") ?? "",
        };
        if (Text(root, "utc_time_created") is { } created &&
            DateTime.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            manifest.UtcTimeCreated = time;
        if (root.GetValueOrDefault("flavors") is Dictionary<object, object?> flavors)
            foreach (var (name, settings) in flavors)
                manifest.Flavors[name.ToString()!] = settings is Dictionary<object, object?> map
                    ? map.ToDictionary(kv => kv.Key.ToString()!, kv => kv.Value, StringComparer.Ordinal)
                    : new Dictionary<string, object?>(StringComparer.Ordinal);
        if (root.GetValueOrDefault("signature") is Dictionary<object, object?> signature)
        {
            manifest.Inputs = ColumnSpec.ParseList(Text(signature, "inputs"));
            manifest.Outputs = ColumnSpec.ParseList(Text(signature, "outputs"));
        }
        if (root.GetValueOrDefault("saved_input_example_info") is Dictionary<object, object?> example)
            manifest.InputExample = Text(example, "artifact_path");
        if (root.GetValueOrDefault("metadata") is Dictionary<object, object?> metadata)
            foreach (var (key, value) in metadata) manifest.Metadata[key.ToString()!] = value;
        return manifest;
    }

    /// <summary>Writes <c>MLmodel</c> into <paramref name="folder"/>.</summary>
    public void Save(string folder)
    {
        var root = new Dictionary<string, object?>
        {
            ["artifact_path"] = ArtifactPath,
            ["flavors"] = Flavors,
            ["model_uuid"] = ModelUuid,
        };
        if (RunId is not null) root["run_id"] = RunId;
        if (InputExample is not null)
            root["saved_input_example_info"] = new Dictionary<string, object?> { ["artifact_path"] = InputExample, ["pandas_orient"] = "split", ["type"] = "dataframe" };
        if (Inputs.Count > 0)
            root["signature"] = new Dictionary<string, object?>
            {
                ["inputs"] = ColumnSpec.FormatList(Inputs),
                ["outputs"] = Outputs.Count > 0 ? ColumnSpec.FormatList(Outputs) : null,
                ["params"] = null,
            };
        root["utc_time_created"] = UtcTimeCreated.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        if (Metadata.Count > 0) root["metadata"] = Metadata;
        File.WriteAllText(Path.Combine(folder, FileName), ToYaml(root));
    }

    /// <summary>
    /// The manifest as YAML, written event by event with YamlDotNet's emitter (its object serializer costs more to start
    /// than the whole file is worth). A string stays plain only when no YAML 1.1 or 1.2 reader could take it for anything
    /// else; otherwise it is single-quoted, as MLflow writes its own.
    /// </summary>
    private static string ToYaml(object? root)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        var emitter = new Emitter(text, new EmitterSettings(bestIndent: 2, bestWidth: int.MaxValue, isCanonical: false, maxSimpleKeyLength: 1024, indentSequences: true));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        Write(emitter, root);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    private static void Write(IEmitter emitter, object? value)
    {
        switch (value)
        {
            case null:
                emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                break;
            case string text:
                emitter.Emit(IsPlain(text) ? new Scalar(null, null, text, ScalarStyle.Plain, true, false) : new Scalar(null, null, text, ScalarStyle.SingleQuoted, false, true));
                break;
            case bool flag:
                emitter.Emit(new Scalar(null, null, flag ? "true" : "false", ScalarStyle.Plain, true, false));
                break;
            case double or float or decimal or int or long or short or byte or uint or ulong:
                emitter.Emit(new Scalar(null, null, Convert.ToString(value, CultureInfo.InvariantCulture)!, ScalarStyle.Plain, true, false));
                break;
            case System.Collections.IDictionary map:
                emitter.Emit(new MappingStart());
                foreach (System.Collections.DictionaryEntry entry in map)
                {
                    Write(emitter, Convert.ToString(entry.Key, CultureInfo.InvariantCulture));
                    Write(emitter, entry.Value);
                }
                emitter.Emit(new MappingEnd());
                break;
            case System.Collections.IEnumerable items:
                emitter.Emit(new SequenceStart(null, null, true, SequenceStyle.Block));
                foreach (var item in items) Write(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            default:
                Write(emitter, Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    /// <summary>
    /// Whether <paramref name="text"/> reads back as this same string when written plain: a name-like word (letters,
    /// digits, <c>_ . / -</c>, starting with a letter, <c>_</c> or <c>/</c>) that is none of YAML 1.1's booleans and nulls.
    /// </summary>
    internal static bool IsPlain(string text)
    {
        if (text.Length == 0 || !(char.IsAsciiLetter(text[0]) || text[0] is '_' or '/')) return false;
        foreach (var c in text)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or '-')) return false;
        return text.ToLowerInvariant() is not ("y" or "n" or "yes" or "no" or "true" or "false" or "on" or "off" or "null");
    }

    private static string? Text(Dictionary<object, object?> map, string key) =>
        map.GetValueOrDefault(key) is { } value ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;
}
