using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.ML;

namespace Cairn.ML.Models;

/// <summary>
/// A model package: a folder with an <c>MLmodel</c> manifest (MLflow's format) and the model files of its flavors,
/// <c>model.zip</c> (ML.NET, Cairn's <c>mlnet</c> flavor) and/or <c>model.onnx</c> (MLflow's <c>onnx</c> flavor).
/// A package written by Python's <c>mlflow.onnx.log_model</c> loads as is.
/// </summary>
public sealed class ModelPackage : IDisposable
{
    public const string MlNetModelFile = "model.zip";
    public const string OnnxModelFile = "model.onnx";
    public const string InputExampleFile = "input_example.json";

    private ModelPackage(string folder, ModelManifest manifest, IModelPredictor predictor)
    {
        Folder = folder;
        Manifest = manifest;
        Predictor = predictor;
    }

    public string Folder { get; }

    public ModelManifest Manifest { get; }

    /// <summary>The predictor of the flavor chosen at load time (ML.NET when present, else ONNX).</summary>
    public IModelPredictor Predictor { get; }

    /// <summary>
    /// Loads the package in <paramref name="folder"/>. <paramref name="flavor"/> forces <c>mlnet</c> or <c>onnx</c>;
    /// by default ML.NET is preferred (it carries its own featurization) and ONNX is the fallback.
    /// </summary>
    public static ModelPackage Load(string folder, string? flavor = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new ResourceDoesNotExistException($"Model folder '{folder}' does not exist.");
        var manifest = ModelManifest.Load(folder);
        var choice = flavor ?? (manifest.Flavors.ContainsKey(ModelManifest.MlNetFlavor) ? ModelManifest.MlNetFlavor
            : manifest.Flavors.ContainsKey(ModelManifest.OnnxFlavor) ? ModelManifest.OnnxFlavor
            : throw new InvalidParameterValueException(
                $"The model in '{folder}' has no flavor Cairn can load (it has: {string.Join(", ", manifest.Flavors.Keys)}); expected 'mlnet' or 'onnx'. " +
                "Python-only models (sklearn, python_function, ...) run in Python: convert the model to ONNX (skl2onnx for scikit-learn, " +
                "tf2onnx, torch.onnx) and log it with mlflow.onnx.log_model, which Cairn serves."));
        if (!manifest.Flavors.ContainsKey(choice))
            throw new InvalidParameterValueException($"The model in '{folder}' has no '{choice}' flavor (it has: {string.Join(", ", manifest.Flavors.Keys)}).");
        IModelPredictor predictor = choice switch
        {
            ModelManifest.MlNetFlavor => new MlNetPredictor(Path.Combine(folder, manifest.FlavorValue(choice, "model_file") ?? MlNetModelFile), manifest.Inputs),
            ModelManifest.OnnxFlavor => new OnnxPredictor(Path.Combine(folder, manifest.FlavorValue(choice, "onnx_model") ?? OnnxModelFile)),
            _ => throw new InvalidParameterValueException($"Unknown model flavor '{choice}': expected 'mlnet' or 'onnx'."),
        };
        return new ModelPackage(folder, manifest, predictor);
    }

    /// <summary>
    /// Writes an ML.NET model package into <paramref name="folder"/>: <c>model.zip</c> (the whole chain), <c>MLmodel</c>
    /// with the <c>mlnet</c> flavor and a signature of <paramref name="inputs"/>, and <c>input_example.json</c>
    /// (MLflow's <c>dataframe_split</c> shape) from the first rows of <paramref name="example"/>.
    /// </summary>
    public static ModelManifest SaveMlNet(string folder, MLContext ml, ITransformer model, DataViewSchema inputSchema,
        IReadOnlyList<ColumnSpec> inputs, ColumnBatch? example = null, string? runId = null, IReadOnlyDictionary<string, object?>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(folder);
        ml.Model.Save(model, inputSchema, Path.Combine(folder, MlNetModelFile));
        var manifest = new ModelManifest { RunId = runId, Inputs = inputs };
        manifest.Flavors[ModelManifest.MlNetFlavor] = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["model_file"] = MlNetModelFile,
            ["mlnet_version"] = MlNetVersion(),
        };
        foreach (var (key, value) in metadata ?? new Dictionary<string, object?>()) manifest.Metadata[key] = value;
        // The outputs as a predictor loading this file finds them (the saved chain is this one; no need to read it back).
        manifest.Outputs = MlNetPredictor.OutputsOf(model, inputSchema).Specs;
        if (example is { RowCount: > 0 })
        {
            WriteInputExample(Path.Combine(folder, InputExampleFile), example, inputs.Select(i => i.Name!).ToList(), 5);
            manifest.InputExample = InputExampleFile;
        }
        manifest.Save(folder);
        return manifest;
    }

    /// <summary>The ML.NET package version (its assembly version is always 1.0.0).</summary>
    private static string MlNetVersion()
    {
        var informational = typeof(MLContext).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion;
        return informational?.Split('+')[0] ?? "unknown";
    }

    /// <summary>Writes the first <paramref name="maxRows"/> rows as <c>{"columns": [...], "data": [[...]]}</c>.</summary>
    internal static void WriteInputExample(string path, ColumnBatch batch, IReadOnlyList<string> columns, int maxRows)
    {
        var rows = new JsonArray();
        for (var r = 0; r < Math.Min(maxRows, batch.RowCount); r++)
        {
            var row = new JsonArray();
            foreach (var name in columns)
            {
                var value = batch[name].GetValue(r);
                row.Add(value switch
                {
                    null => null,
                    double d when double.IsNaN(d) => null,
                    double d => JsonValue.Create(d),
                    float f => JsonValue.Create((double)f),
                    bool b => JsonValue.Create(b),
                    long l => JsonValue.Create(l),
                    int i => JsonValue.Create(i),
                    _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture)),
                });
            }
            rows.Add(row);
        }
        var document = new JsonObject
        {
            ["columns"] = new JsonArray(columns.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()),
            ["data"] = rows,
        };
        File.WriteAllText(path, document.ToJsonString());
    }

    public void Dispose() => Predictor.Dispose();
}
