using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Cairn.Server.Endpoints;

/// <summary>Reads MLflow requests: JSON bodies for POST, query strings for GET, with MLflow's error messages.</summary>
internal static class MlflowRequest
{
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> type) where T : new()
    {
        if (request.ContentLength == 0) return new T();
        try
        {
            var value = await JsonSerializer.DeserializeAsync(request.Body, type, request.HttpContext.RequestAborted).ConfigureAwait(false);
            return value ?? new T();
        }
        catch (JsonException e)
        {
            if (IsSyntaxError(e))
                throw new CairnException(ErrorCode.MALFORMED_REQUEST, $"Malformed JSON in the request body: {Explain(e)}");
            var field = e.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : "(body)";
            throw new InvalidParameterValueException($"Invalid value for field '{field}': {Explain(e)}");
        }
    }

    private static bool IsSyntaxError(JsonException e) =>
        e.InnerException is not null && e.InnerException.GetType().Name == "JsonReaderException";

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
