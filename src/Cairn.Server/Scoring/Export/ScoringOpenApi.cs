using System.Text.Json;
using System.Text.Json.Nodes;
using Cairn.ML.Models;

namespace Cairn.Server.Scoring.Export;

/// <summary>
/// The OpenAPI 3 document of one served model, from what the server checks requests against (<see cref="ServedModel.Inputs"/>,
/// the columns the model reads in the signature's order, typed as the signature declares them, else as the model reads them) and answers (<see cref="ServedModel.Outputs"/>): <c>/invocations</c> with
/// <c>dataframe_split</c>, <c>dataframe_records</c> and CSV bodies, the prediction records, MLflow's error body, the health
/// probes and the Open Inference Protocol's <c>/v2/models/NAME/infer</c>.
/// </summary>
internal static class ScoringOpenApi
{
    public static string ToJson(ServedModel model) =>
        Build(model).ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static JsonObject Build(ServedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        // The signature's type where it names the column (a CSV column logged as double that ML.NET reads as float is a double
        // to callers; the server parses either from a JSON number).
        var declared = (model.Manifest?.Inputs ?? []).Where(c => c.Name is not null && !c.IsTensor)
            .GroupBy(c => c.Name!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => ServedModel.TypeOf(g.First().Type), StringComparer.Ordinal);
        var inputs = model.Inputs.Select(i => !i.IsTensor && declared.TryGetValue(i.Name, out var type) ? i with { Type = type } : i).ToList();
        var columns = model.Tensor is null ? inputs : [];
        var record = new JsonObject
        {
            ["type"] = "object",
            ["required"] = Strings(inputs.Where(i => !i.IsTensor).Select(i => i.Name)),
            ["properties"] = Properties(inputs.Where(i => !i.IsTensor).Select(i => (i.Name, InputSchema(i)))),
            ["additionalProperties"] = false,
        };
        var split = new JsonObject
        {
            ["type"] = "object",
            ["required"] = Strings(["dataframe_split"]),
            ["properties"] = new JsonObject
            {
                ["dataframe_split"] = new JsonObject
                {
                    ["type"] = "object",
                    ["required"] = Strings(["columns", "data"]),
                    ["properties"] = new JsonObject
                    {
                        ["columns"] = new JsonObject
                        {
                            ["type"] = "array",
                            ["description"] = "The column names, in the order of each row's values.",
                            // A model of one tensor input is fed a dataframe's columns by position, whatever their names.
                            ["items"] = columns.Count == 0 ? new JsonObject { ["type"] = "string" }
                                : new JsonObject { ["type"] = "string", ["enum"] = Strings(columns.Select(c => c.Name)) },
                        },
                        ["data"] = new JsonObject
                        {
                            ["type"] = "array",
                            ["description"] = "One array of values per row, in the order of 'columns'.",
                            ["items"] = new JsonObject
                            {
                                ["type"] = "array",
                                ["prefixItems"] = new JsonArray(columns.Select(c => (JsonNode)InputSchema(c)).ToArray()),
                            },
                        },
                    },
                },
            },
        };
        var records = new JsonObject
        {
            ["type"] = "object",
            ["required"] = Strings(["dataframe_records"]),
            ["properties"] = new JsonObject { ["dataframe_records"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["$ref"] = "#/components/schemas/Record" } } },
        };
        var prediction = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = Properties(model.Outputs.Select(o => (o.Name ?? "output", OutputSchema(o)))),
        };
        var name = model.Name;

        return new JsonObject
        {
            ["openapi"] = "3.1.0",
            ["info"] = new JsonObject
            {
                ["title"] = $"{name} (cairn serve)",
                ["version"] = model.VersionLabel,
                ["description"] = $"Scoring API of model '{name}' version {model.VersionLabel} ({model.Predictor.Flavor}), served by cairn serve. " +
                                  "With an API key, every path but the health probes needs 'Authorization: Bearer <key>'.",
            },
            ["paths"] = new JsonObject
            {
                ["/invocations"] = new JsonObject
                {
                    ["post"] = new JsonObject
                    {
                        ["operationId"] = "invocations",
                        ["summary"] = "Score rows (MLflow's scoring protocol).",
                        ["requestBody"] = new JsonObject
                        {
                            ["required"] = true,
                            ["content"] = new JsonObject
                            {
                                ["application/json"] = new JsonObject
                                {
                                    ["schema"] = new JsonObject
                                    {
                                        ["oneOf"] = new JsonArray(Ref("DataframeSplit"), Ref("DataframeRecords")),
                                    },
                                },
                                ["text/csv"] = new JsonObject
                                {
                                    ["schema"] = new JsonObject { ["type"] = "string", ["description"] = "A header row naming the columns, then one row per line." },
                                },
                            },
                        },
                        ["responses"] = new JsonObject
                        {
                            ["200"] = Json("One prediction record per input row.", new JsonObject
                            {
                                ["type"] = "object",
                                ["required"] = Strings(["predictions"]),
                                ["properties"] = new JsonObject { ["predictions"] = new JsonObject { ["type"] = "array", ["items"] = Ref("Prediction") } },
                            }),
                            ["400"] = Json("Bad input: the message names the column and the 0-based row.", Ref("Error")),
                            ["401"] = Json("An API key is required and missing or wrong.", Ref("Error")),
                            ["413"] = Json("The body is larger than the server's limit.", Ref("Error")),
                            ["415"] = Json("Neither application/json nor text/csv.", Ref("Error")),
                            ["503"] = Json("The model is still loading, or the request took longer than the timeout.", Ref("Error")),
                        },
                    },
                },
                ["/ping"] = Probe("ping", "MLflow's readiness probe: 200 once the model is loaded."),
                ["/health"] = Probe("health", "Readiness: 200 once the model is loaded."),
                ["/health/ready"] = Probe("healthReady", "Readiness: 200 once the model is loaded (Kubernetes readinessProbe)."),
                ["/health/live"] = Probe("healthLive", "Liveness: 200 while the process answers (Kubernetes livenessProbe)."),
                ["/v2/health/ready"] = Probe("v2HealthReady", "Open Inference Protocol readiness."),
                [$"/v2/models/{name}"] = new JsonObject
                {
                    ["get"] = new JsonObject
                    {
                        ["operationId"] = "v2ModelMetadata",
                        ["summary"] = "Open Inference Protocol model metadata: inputs and outputs with datatypes and shapes.",
                        ["responses"] = new JsonObject { ["200"] = Json("The model's metadata.", new JsonObject { ["type"] = "object" }) },
                    },
                },
                [$"/v2/models/{name}/infer"] = new JsonObject
                {
                    ["post"] = new JsonObject
                    {
                        ["operationId"] = "v2Infer",
                        ["summary"] = "Score rows (Open Inference Protocol v2: KServe, Triton, Seldon).",
                        ["requestBody"] = new JsonObject
                        {
                            ["required"] = true,
                            ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = Ref("InferRequest") } },
                        },
                        ["responses"] = new JsonObject
                        {
                            ["200"] = Json("The outputs, one tensor per output.", Ref("InferResponse")),
                            ["400"] = Json("Bad input.", new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["error"] = new JsonObject { ["type"] = "string" } } }),
                        },
                    },
                },
                ["/metrics"] = new JsonObject
                {
                    ["get"] = new JsonObject
                    {
                        ["operationId"] = "metrics",
                        ["summary"] = "Prometheus metrics (cairn_scoring_*).",
                        ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "Prometheus text exposition.", ["content"] = new JsonObject { ["text/plain"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "string" } } } } },
                    },
                },
            },
            ["components"] = new JsonObject
            {
                ["securitySchemes"] = new JsonObject { ["apiKey"] = new JsonObject { ["type"] = "http", ["scheme"] = "bearer" } },
                ["schemas"] = new JsonObject
                {
                    ["Record"] = record,
                    ["DataframeSplit"] = split,
                    ["DataframeRecords"] = records,
                    ["Prediction"] = prediction,
                    ["Error"] = new JsonObject
                    {
                        ["type"] = "object",
                        ["required"] = Strings(["error_code", "message"]),
                        ["properties"] = new JsonObject { ["error_code"] = new JsonObject { ["type"] = "string" }, ["message"] = new JsonObject { ["type"] = "string" } },
                    },
                    // The protocol's tensors as the model reads them, as /v2/models/NAME answers.
                    ["InferRequest"] = InferRequest(model.Inputs),
                    ["InferResponse"] = InferResponse(model),
                },
            },
            // Health probes need no key; scoring does when the server was started with one.
            ["security"] = new JsonArray(new JsonObject(), new JsonObject { ["apiKey"] = new JsonArray() }),
        };
    }

    /// <summary>The JSON schema of one input's values: a scalar per row, or for a tensor an array of <c>Width</c> values per row.</summary>
    public static JsonObject InputSchema(ScoringInput input)
    {
        var scalar = Scalar(input.Type);
        if (!input.IsTensor) return scalar;
        var array = new JsonObject { ["type"] = "array", ["items"] = scalar };
        if (input.Width > 0) (array["minItems"], array["maxItems"]) = (input.Width, input.Width);
        return array;
    }

    private static JsonObject OutputSchema(ColumnSpec output)
    {
        if (!output.IsTensor) return Scalar(ServedModel.TypeOf(output.Type));
        var array = new JsonObject { ["type"] = "array", ["items"] = Scalar(ServedModel.TypeOf(output.TensorType)) };
        if (output.Shape is [_, > 0 and var width]) (array["minItems"], array["maxItems"]) = (width, width);
        return array;
    }

    private static JsonObject Scalar(ScoringType type) => type switch
    {
        ScoringType.Float32 => new JsonObject { ["type"] = Strings(["number", "null"]), ["format"] = "float" },
        ScoringType.Float64 => new JsonObject { ["type"] = Strings(["number", "null"]), ["format"] = "double" },
        ScoringType.Int64 => new JsonObject { ["type"] = "integer", ["format"] = "int64" },
        ScoringType.Int32 => new JsonObject { ["type"] = "integer", ["format"] = "int32" },
        ScoringType.Bool => new JsonObject { ["type"] = "boolean" },
        _ => new JsonObject { ["type"] = "string" },
    };

    private static readonly string[] s_numeric = ["FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"];

    private static JsonObject InferRequest(IReadOnlyList<ScoringInput> inputs)
    {
        var tensors = inputs.Select(input => (JsonNode)new JsonObject
        {
            ["type"] = "object",
            ["required"] = Strings(["name", "shape", "datatype", "data"]),
            ["properties"] = new JsonObject
            {
                ["name"] = new JsonObject { ["const"] = input.Name },
                ["shape"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "integer" } },
                // Any numeric datatype feeds a numeric input; the model's own is the default.
                ["datatype"] = input.Type is ScoringType.Bool or ScoringType.String
                    ? new JsonObject { ["const"] = OpenInferenceProtocol.Datatype(input.Type) }
                    : new JsonObject { ["enum"] = Strings(s_numeric), ["default"] = OpenInferenceProtocol.Datatype(input.Type) },
                ["data"] = new JsonObject { ["type"] = "array", ["items"] = Scalar(input.Type) },
            },
        }).ToArray();
        return new JsonObject
        {
            ["type"] = "object",
            ["required"] = Strings(["inputs"]),
            ["properties"] = new JsonObject
            {
                ["id"] = new JsonObject { ["type"] = "string" },
                ["inputs"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["oneOf"] = new JsonArray(tensors) } },
                ["outputs"] = new JsonObject
                {
                    ["type"] = "array",
                    ["description"] = "The outputs wanted (all when left out).",
                    ["items"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["name"] = new JsonObject { ["type"] = "string" } } },
                },
            },
        };
    }

    private static JsonObject InferResponse(ServedModel model) => new()
    {
        ["type"] = "object",
        ["required"] = Strings(["model_name", "outputs"]),
        ["properties"] = new JsonObject
        {
            ["model_name"] = new JsonObject { ["const"] = model.Name },
            ["model_version"] = new JsonObject { ["type"] = "string" },
            ["id"] = new JsonObject { ["type"] = "string" },
            ["outputs"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["oneOf"] = new JsonArray(model.Outputs.Select(o => (JsonNode)new JsonObject
                    {
                        ["type"] = "object",
                        ["properties"] = new JsonObject
                        {
                            ["name"] = new JsonObject { ["const"] = o.Name ?? "output" },
                            ["shape"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "integer" } },
                            ["datatype"] = new JsonObject { ["const"] = o.IsTensor ? OpenInferenceProtocol.TensorDatatype(o.TensorType) : OpenInferenceProtocol.ColumnDatatype(o.Type) },
                            ["data"] = new JsonObject { ["type"] = "array" },
                        },
                    }).ToArray()),
                },
            },
        },
    };

    private static JsonObject Probe(string id, string summary) => new()
    {
        ["get"] = new JsonObject
        {
            ["operationId"] = id,
            ["summary"] = summary,
            ["security"] = new JsonArray(),
            ["responses"] = new JsonObject
            {
                ["200"] = new JsonObject { ["description"] = "Ready or alive." },
                ["503"] = new JsonObject { ["description"] = "The model is still loading." },
            },
        },
    };

    private static JsonObject Json(string description, JsonNode schema) => new()
    {
        ["description"] = description,
        ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schema } },
    };

    private static JsonObject Ref(string schema) => new() { ["$ref"] = "#/components/schemas/" + schema };

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

    private static JsonObject Properties(IEnumerable<(string Name, JsonObject Schema)> properties)
    {
        var result = new JsonObject();
        foreach (var (name, schema) in properties) result[name] = schema;
        return result;
    }
}
