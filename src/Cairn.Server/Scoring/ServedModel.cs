using System.Text.Json;
using Cairn.ML.Models;

namespace Cairn.Server.Scoring;

/// <summary>The element type a request's values are parsed into, straight from the JSON or CSV text.</summary>
public enum ScoringType
{
    Float32,
    Float64,
    Int64,
    Int32,
    Bool,
    String,
}

/// <summary>
/// One input a scoring request provides: a named column (one value per row) or, for a model whose signature is a single
/// 2-D tensor, that tensor (one vector of <see cref="Width"/> values per row, fed column by column from a dataframe).
/// </summary>
/// <param name="Name">The column or tensor name.</param>
/// <param name="Type">The element type.</param>
/// <param name="IsTensor">True for a tensor input (one vector per row).</param>
/// <param name="Width">For a tensor: values per row, or -1 when the graph leaves it open.</param>
public sealed record ScoringInput(string Name, ScoringType Type, bool IsTensor = false, int Width = -1)
{
    /// <summary>The input's name in UTF-8, for comparing JSON property names without allocating.</summary>
    internal byte[] Utf8Name { get; } = System.Text.Encoding.UTF8.GetBytes(Name);

    /// <summary>The type as errors and the OIP metadata name it.</summary>
    public string TypeName => Type switch
    {
        ScoringType.Float32 => "float",
        ScoringType.Float64 => "double",
        ScoringType.Int64 => "long",
        ScoringType.Int32 => "integer",
        ScoringType.Bool => "boolean",
        _ => "string",
    };
}

/// <summary>
/// A model loaded for scoring: its package's predictor (ML.NET or ONNX), its name, version and URI, and the inputs a
/// request must provide, derived from the predictor (what the model really reads) in the order of the package's signature.
/// Scoring is thread-safe (the predictors are); batches are scored as batches.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly IDisposable? _owner;

    /// <summary>Wraps a loaded predictor; <paramref name="owner"/> (the package) is disposed with this model.</summary>
    public ServedModel(IModelPredictor predictor, string name, string? version, string uri, ModelManifest? manifest = null, IDisposable? owner = null)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Predictor = predictor;
        Name = name;
        Version = version;
        Uri = uri;
        Manifest = manifest;
        _owner = owner;
        Inputs = InputsOf(predictor, manifest);
        Tensor = Inputs is [{ IsTensor: true } single] ? single : null;
        OutputNames = predictor.Outputs.Select(o => JsonEncodedText.Encode(o.Name ?? "output")).ToArray();
    }

    public string Name { get; }

    /// <summary>The registered version, or null for a model served from a folder.</summary>
    public string? Version { get; }

    /// <summary>The version answers name: the registered version, or <c>folder</c> for a model served from a folder.</summary>
    public string VersionLabel => Version ?? "folder";

    /// <summary>The URI the model was loaded from (<c>models:/...</c>, <c>runs:/...</c> or a folder).</summary>
    public string Uri { get; }

    public ModelManifest? Manifest { get; }

    public IModelPredictor Predictor { get; }

    /// <summary>What a request provides, in signature order.</summary>
    public IReadOnlyList<ScoringInput> Inputs { get; }

    /// <summary>The single 2-D tensor input a dataframe feeds column by column, or null for a model of named columns.</summary>
    public ScoringInput? Tensor { get; }

    public IReadOnlyList<ColumnSpec> Outputs => Predictor.Outputs;

    internal JsonEncodedText[] OutputNames { get; }

    /// <summary>
    /// Loads the package in <paramref name="folder"/> (<paramref name="flavor"/> forces <c>mlnet</c> or <c>onnx</c>). A package
    /// with only Python flavors is refused, naming them and how to export ONNX.
    /// </summary>
    public static ServedModel Load(string folder, string name, string? version, string uri, string? flavor = null)
    {
        var package = ModelPackage.Load(folder, flavor);
        try
        {
            return new ServedModel(package.Predictor, name, version, uri, package.Manifest, package);
        }
        catch
        {
            package.Dispose();
            throw;
        }
    }

    /// <summary>Scores every row of <paramref name="input"/>.</summary>
    public ColumnBatch Predict(ColumnBatch input) => Predictor.Predict(input);

    private static IReadOnlyList<ScoringInput> InputsOf(IModelPredictor predictor, ModelManifest? manifest)
    {
        if (predictor.Flavor == ModelManifest.OnnxFlavor || predictor.Inputs.All(i => i.IsTensor))
        {
            var tensors = predictor.Inputs;
            if (tensors is [{ Shape.Count: 2 } single])
                return [new ScoringInput(single.Name ?? "input", TypeOf(single.TensorType), IsTensor: true, Width: (int)Math.Max(single.Shape![1], -1))];
            // Several inputs: each one is a column (1-D or [N, 1]) or a named tensor of rows.
            return tensors.Select(t => t.Shape is { Count: 2 } shape && shape[1] != 1
                ? new ScoringInput(t.Name ?? "input", TypeOf(t.TensorType), IsTensor: true, Width: (int)Math.Max(shape[1], -1))
                : new ScoringInput(t.Name ?? "input", TypeOf(t.TensorType))).ToList();
        }
        var columns = predictor.Inputs.Where(i => i.Name is not null).ToDictionary(i => i.Name!, StringComparer.Ordinal);
        var ordered = new List<ScoringInput>();
        // The signature's order when the package has one (a dataframe's columns are named, so order only shows in metadata).
        foreach (var spec in manifest?.Inputs ?? [])
            if (spec.Name is not null && columns.Remove(spec.Name, out var column)) ordered.Add(new ScoringInput(column.Name!, TypeOf(column.Type)));
        foreach (var column in predictor.Inputs)
            if (column.Name is not null && columns.ContainsKey(column.Name)) ordered.Add(new ScoringInput(column.Name, TypeOf(column.Type)));
        return ordered;
    }

    /// <summary>The scoring type of an MLflow signature type name (string for anything else).</summary>
    internal static ScoringType TypeOf(string? type) => type switch
    {
        "float" or "float32" => ScoringType.Float32,
        "double" or "float64" => ScoringType.Float64,
        "long" or "int64" => ScoringType.Int64,
        "integer" or "int32" => ScoringType.Int32,
        "boolean" or "bool" => ScoringType.Bool,
        _ => ScoringType.String,
    };

    public void Dispose()
    {
        if (_owner is not null) _owner.Dispose();
        else Predictor.Dispose();
    }
}
