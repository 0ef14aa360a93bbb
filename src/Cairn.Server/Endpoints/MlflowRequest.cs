using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Cairn.Server.Endpoints;

/// <summary>Reads MLflow requests: JSON bodies for POST, query strings for GET, with MLflow's error messages.</summary>
internal static class MlflowRequest
{
    /// <summary>
    /// Reads the JSON body. <paramref name="required"/> are checked first, in order, before the types of the other
    /// fields, as MLflow's schemas do: a missing run_id is reported even when another field has the wrong shape.
    /// </summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type, params string[] required) where T : new()
    {
        if (request.ContentLength == 0)
        {
            if (required.Length > 0) throw new InvalidParameterValueException($"Missing value for required parameter '{required[0]}'.");
            return new T();
        }
        JsonElement root;
        if (request.HttpContext.Items.TryGetValue(ParsedKey, out var parsed) && parsed is JsonElement already)
        {
            root = already; // the permission check parsed it first
        }
        else
        {
            try
            {
                // The body is parsed once into a document so a field of the wrong type can be reported with the value the
                // client sent, as MLflow does ("Invalid value 123 for parameter 'name' supplied"); Kestrel's body limit bounds it.
                using var document = await JsonDocument.ParseAsync(request.Body, DocumentOptions, request.HttpContext.RequestAborted).ConfigureAwait(false);
                root = document.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new CairnException(ErrorCode.MALFORMED_REQUEST, $"Malformed JSON in the request body: {Explain(e)}");
            }
        }
        request.HttpContext.Items[BodyKey] = root;
        foreach (var field in required)
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(field, out var value)
                || value.ValueKind == JsonValueKind.Null || value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0)
                throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
        }
        try
        {
            return root.Deserialize(type) ?? new T();
        }
        catch (JsonException e)
        {
            var field = TopLevelField(e.Path);
            if (field is not null && root.ValueKind == JsonValueKind.Object && root.TryGetProperty(field, out var value))
                throw InvalidValue(field, value);
            throw new InvalidParameterValueException($"Invalid value for field '{field ?? "(body)"}': {Explain(e)}");
        }
    }

    private static readonly JsonDocumentOptions DocumentOptions = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };

    private static readonly object BodyKey = new();

    private static readonly object ParsedKey = new();

    /// <summary>
    /// The JSON body parsed ahead of the handler (the permission check reads its target from it), or null when it is not
    /// JSON; the body is buffered and rewound, and <see cref="ReadAsync"/> takes the parsed document instead of parsing
    /// again. A body that does not parse is left for the handler, which answers MLflow's error for it.
    /// </summary>
    public static async Task<JsonElement?> PeekAsync(HttpRequest request)
    {
        var items = request.HttpContext.Items;
        if (items.TryGetValue(ParsedKey, out var cached)) return (JsonElement?)cached;
        JsonElement? body = null;
        request.EnableBuffering();
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, DocumentOptions, request.HttpContext.RequestAborted).ConfigureAwait(false);
            body = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            // Not JSON: no field is taken from it.
        }
        finally
        {
            request.Body.Position = 0;
        }
        items[ParsedKey] = body;
        return body;
    }

    /// <summary>
    /// MLflow's error for a field that does not have the shape its message declares, naming the value as Python prints it
    /// (clients match on this text).
    /// </summary>
    public static InvalidParameterValueException InvalidValue(string field, JsonElement value) =>
        new($"Invalid value {PythonText.Str(value)} for parameter '{field}' supplied. Hint: Value was of type '{PythonText.TypeName(value)}'. " +
            "See the API docs for more information about request parameters.");

    /// <summary>
    /// <see cref="InvalidValue(string, JsonElement)"/> for a top-level field of the JSON body this request was read from,
    /// e.g. a metric of <c>log-batch</c> without its timestamp makes the whole <c>metrics</c> list invalid, as in MLflow.
    /// </summary>
    public static InvalidParameterValueException InvalidValue(HttpRequest request, string field, string fallback) =>
        request.HttpContext.Items.TryGetValue(BodyKey, out var body) && body is JsonElement { ValueKind: JsonValueKind.Object } root
            && root.TryGetProperty(field, out var value)
            ? InvalidValue(field, value)
            : new InvalidParameterValueException(fallback);

    /// <summary>"metrics" from "$.metrics[0].value"; null for the root itself.</summary>
    private static string? TopLevelField(string? path)
    {
        if (path is null || !path.StartsWith("$", StringComparison.Ordinal) || path.Length < 2) return null;
        if (path.StartsWith("$['", StringComparison.Ordinal))
        {
            var close = path.IndexOf("']", 3, StringComparison.Ordinal);
            return close > 3 ? path[3..close] : null;
        }
        if (path[1] != '.') return null;
        var end = path.IndexOfAny(['.', '['], 2);
        return end < 0 ? path[2..] : path[2..end];
    }

    private static string Explain(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    public static string Required(string? value, string field) =>
        string.IsNullOrEmpty(value) ? throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.") : value;

    public static T Required<T>(T? value, string field) where T : struct =>
        value ?? throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");

    public static string? Query(HttpRequest request, string name) =>
        request.Query.TryGetValue(name, out var values) && values.Count > 0 ? values[^1] : null;

    public static int? QueryInt(HttpRequest request, string name)
    {
        var text = Query(request, name);
        if (string.IsNullOrEmpty(text)) return null;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidParameterValueException($"Invalid value '{text}' for parameter '{name}': expected an integer.");
    }

    /// <summary>MLflow renamed run_uuid to run_id; clients still send either or both.</summary>
    public static string RunId(string? runId, string? runUuid) =>
        !string.IsNullOrEmpty(runId) ? runId : Required(runUuid, "run_id");

    public static int MaxResults(long? value, int defaultValue)
    {
        if (value is null) return defaultValue;
        if (value < 1 || value > int.MaxValue)
            throw new InvalidParameterValueException($"Invalid value {value} for parameter 'max_results' supplied. It must be at least 1.");
        return (int)value.Value;
    }
}
