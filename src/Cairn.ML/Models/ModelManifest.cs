using System.Globalization;
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
        var yaml = new SerializerBuilder().WithQuotingNecessaryStrings(quoteYaml1_1Strings: true).WithIndentedSequences().Build().Serialize(root);
        File.WriteAllText(Path.Combine(folder, FileName), yaml);
    }

    private static string? Text(Dictionary<object, object?> map, string key) =>
        map.GetValueOrDefault(key) is { } value ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;
}
