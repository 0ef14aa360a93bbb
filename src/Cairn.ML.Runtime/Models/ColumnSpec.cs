using System.Text.Json.Nodes;

namespace Cairn.ML.Models;

/// <summary>
/// One entry of an MLflow model signature: a named column (<c>{"name": "x", "type": "double"}</c>) or a tensor
/// (<c>{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}, "name": "X"}</c>).
/// </summary>
/// <param name="Name">Column or tensor name; may be null for an unnamed MLflow spec.</param>
/// <param name="Type">MLflow column type (double, float, long, integer, boolean, string) or "tensor".</param>
/// <param name="TensorType">For a tensor: numpy dtype (float32, float64, int64, ...).</param>
/// <param name="Shape">For a tensor: its shape, -1 for a variable dimension.</param>
public sealed record ColumnSpec(string? Name, string Type, string? TensorType = null, IReadOnlyList<long>? Shape = null)
{
    public bool IsTensor => Type == "tensor";

    /// <summary>Parses MLflow's signature JSON string (a JSON array of specs).</summary>
    public static IReadOnlyList<ColumnSpec> ParseList(string? json)
    {
        if (string.IsNullOrWhiteSpace(json) || json.Trim() == "null") return [];
        var array = JsonNode.Parse(json) as JsonArray
            ?? throw new InvalidParameterValueException($"Invalid model signature '{json}': expected a JSON array of column specs.");
        var specs = new List<ColumnSpec>();
        foreach (var node in array)
        {
            var type = node?["type"]?.GetValue<string>() ?? throw new InvalidParameterValueException($"Invalid model signature '{json}': a spec has no 'type'.");
            var name = node["name"]?.GetValue<string>();
            if (type == "tensor")
            {
                var spec = node["tensor-spec"];
                specs.Add(new ColumnSpec(name, type, spec?["dtype"]?.GetValue<string>(), spec?["shape"]?.AsArray().Select(d => d!.GetValue<long>()).ToList()));
            }
            else
            {
                specs.Add(new ColumnSpec(name, type));
            }
        }
        return specs;
    }

    /// <summary>Writes specs as MLflow's signature JSON string.</summary>
    public static string FormatList(IEnumerable<ColumnSpec> specs)
    {
        var array = new JsonArray();
        foreach (var s in specs)
        {
            var node = new JsonObject();
            if (s.IsTensor)
            {
                node["type"] = "tensor";
                node["tensor-spec"] = new JsonObject
                {
                    ["dtype"] = s.TensorType,
                    ["shape"] = new JsonArray((s.Shape ?? []).Select(d => (JsonNode?)JsonValue.Create(d)).ToArray()),
                };
                if (s.Name is not null) node["name"] = s.Name;
            }
            else
            {
                node["type"] = s.Type;
                if (s.Name is not null) node["name"] = s.Name;
                node["required"] = true;
            }
            array.Add(node);
        }
        return array.ToJsonString();
    }
}
