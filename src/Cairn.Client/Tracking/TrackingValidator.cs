using System.Buffers;

namespace Cairn.Tracking;

/// <summary>The domain rules, checked once before any store sees the request. Messages follow MLflow's.</summary>
public static class TrackingValidator
{
    // MLflow allows alphanumerics, underscores, dashes, periods, spaces, slashes and colons in keys.
    private static readonly SearchValues<char> KeyChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. /:");

    public static void ValidateKey(string? key, string kind)
    {
        if (string.IsNullOrEmpty(key))
            throw new InvalidParameterValueException($"Missing value for required parameter '{kind}.key'.");
        if (key.Length > TrackingLimits.MaxEntityKeyLength)
            throw new InvalidParameterValueException($"{Capitalize(kind)} key '{Truncate(key)}' had length {key.Length}, which exceeded length limit of {TrackingLimits.MaxEntityKeyLength}.");
        if (key.AsSpan().IndexOfAnyExcept(KeyChars) >= 0)
            throw new InvalidParameterValueException($"Invalid {kind} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/).");
        if (IsPathLike(key))
            throw new InvalidParameterValueException($"Invalid {kind} name: '{key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '{Normalize(key)}'.");
    }

    public static void ValidateMetric(Metric metric)
    {
        ValidateKey(metric.Key, "metric");
        // NaN and ±Infinity are legal metric values in MLflow; anything that parsed as a double is accepted.
    }

    public static void ValidateParam(Param param)
    {
        ValidateKey(param.Key, "param");
        if (param.Value is null)
            throw new InvalidParameterValueException($"Missing value for required parameter 'params.value' of param '{param.Key}'.");
        if (param.Value.Length > TrackingLimits.MaxParamValueLength)
            throw new InvalidParameterValueException($"Param value '{Truncate(param.Value)}' had length {param.Value.Length}, which exceeded length limit of {TrackingLimits.MaxParamValueLength}.");
    }

    public static void ValidateTag(RunTag tag)
    {
        ValidateKey(tag.Key, "tag");
        if (tag.Value is null)
            throw new InvalidParameterValueException($"Missing value for required parameter 'tags.value' of tag '{tag.Key}'.");
        if (tag.Value.Length > TrackingLimits.MaxTagValueLength)
            throw new InvalidParameterValueException($"Tag value '{Truncate(tag.Value)}' had length {tag.Value.Length}, which exceeded length limit of {TrackingLimits.MaxTagValueLength}.");
    }

    /// <summary>A logged model's MLmodel, as <c>runs/log-model</c> carries it: a JSON object. Returns it parsed.</summary>
    internal static System.Text.Json.Nodes.JsonObject ValidateLoggedModel(string? modelJson)
    {
        if (string.IsNullOrEmpty(modelJson)) throw new InvalidParameterValueException("Missing value for required parameter 'model_json'.");
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(modelJson) as System.Text.Json.Nodes.JsonObject
                ?? throw new InvalidParameterValueException("Invalid value for parameter 'model_json': it is not a JSON object.");
        }
        catch (System.Text.Json.JsonException)
        {
            throw new InvalidParameterValueException("Invalid value for parameter 'model_json': it is not a JSON object.");
        }
    }

    public static void ValidateExperimentTag(string key, string? value)
    {
        ValidateKey(key, "tag");
        if (value is null)
            throw new InvalidParameterValueException($"Missing value for required parameter 'value' of experiment tag '{key}'.");
        if (value.Length > TrackingLimits.MaxExperimentTagValueLength)
            throw new InvalidParameterValueException($"Experiment tag value '{Truncate(value)}' had length {value.Length}, which exceeded length limit of {TrackingLimits.MaxExperimentTagValueLength}.");
    }

    public static void ValidateBatch(IReadOnlyList<Metric> metrics, IReadOnlyList<Param> parameters, IReadOnlyList<RunTag> tags)
    {
        if (metrics.Count > TrackingLimits.MaxMetricsPerBatch)
            throw new InvalidParameterValueException($"A batch logging request can contain at most {TrackingLimits.MaxMetricsPerBatch} metrics. Got {metrics.Count} metrics. Please split up metrics across multiple requests and try again.");
        if (parameters.Count > TrackingLimits.MaxParamsPerBatch)
            throw new InvalidParameterValueException($"A batch logging request can contain at most {TrackingLimits.MaxParamsPerBatch} params. Got {parameters.Count} params. Please split up params across multiple requests and try again.");
        if (tags.Count > TrackingLimits.MaxTagsPerBatch)
            throw new InvalidParameterValueException($"A batch logging request can contain at most {TrackingLimits.MaxTagsPerBatch} tags. Got {tags.Count} tags. Please split up tags across multiple requests and try again.");
        var total = metrics.Count + parameters.Count + tags.Count;
        if (total > TrackingLimits.MaxEntitiesPerBatch)
            throw new InvalidParameterValueException($"A batch logging request can contain at most {TrackingLimits.MaxEntitiesPerBatch} metrics, params and tags in total. Got {total}. Please split up the batch and try again.");
        foreach (var m in metrics) ValidateMetric(m);
        foreach (var t in tags) ValidateTag(t);
        if (parameters.Count > 0)
        {
            var seen = new Dictionary<string, string>(parameters.Count, StringComparer.Ordinal);
            foreach (var p in parameters)
            {
                ValidateParam(p);
                if (seen.TryGetValue(p.Key, out var earlier) && earlier != p.Value)
                    throw new InvalidParameterValueException($"Duplicate parameter keys have been submitted: '{p.Key}' with values '{Truncate(earlier)}' and '{Truncate(p.Value)}'. Please ensure the request contains only one value per param key.");
                seen[p.Key] = p.Value;
            }
        }
    }

    public static void ValidateExperimentName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new InvalidParameterValueException("Invalid experiment name: 'name' must be a non-empty string.");
        if (name.Length > 500)
            throw new InvalidParameterValueException($"Invalid experiment name: 'name' had length {name.Length}, which exceeded length limit of 500.");
    }

    public static void ValidateRunId(string? runId)
    {
        if (string.IsNullOrEmpty(runId))
            throw new InvalidParameterValueException("Missing value for required parameter 'run_id'.");
        if (runId.Length > 256 || runId.AsSpan().IndexOfAnyExcept(IdChars) >= 0)
            throw new InvalidParameterValueException($"Invalid value '{Truncate(runId)}' for parameter 'run_id': run IDs contain only letters, digits, '-' and '_'.");
    }

    public static void ValidateExperimentId(string? experimentId)
    {
        if (string.IsNullOrEmpty(experimentId))
            throw new InvalidParameterValueException("Missing value for required parameter 'experiment_id'.");
        if (!long.TryParse(experimentId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
            throw new ResourceDoesNotExistException($"No Experiment with id={experimentId} exists");
    }

    public static void ValidateMaxResults(int maxResults, int limit = TrackingLimits.SearchMaxResultsThreshold)
    {
        if (maxResults < 1 || maxResults > limit)
            throw new InvalidParameterValueException($"Invalid value {maxResults} for parameter 'max_results' supplied. It must be at least 1 and at most {limit}.");
    }

    public static void ValidateDatasetInput(DatasetInput input)
    {
        var d = input.Dataset ?? throw new InvalidParameterValueException("Missing value for required parameter 'datasets.dataset'.");
        Require(d.Name, "dataset.name", TrackingLimits.MaxDatasetNameLength);
        Require(d.Digest, "dataset.digest", TrackingLimits.MaxDatasetDigestLength);
        Require(d.SourceType, "dataset.source_type", 36);
        Require(d.Source, "dataset.source", TrackingLimits.MaxDatasetSourceLength);
        if (d.Schema is { Length: > TrackingLimits.MaxDatasetSchemaLength })
            throw new InvalidParameterValueException($"'dataset.schema' exceeds the maximum length of {TrackingLimits.MaxDatasetSchemaLength}.");
        if (d.Profile is { Length: > TrackingLimits.MaxDatasetProfileLength })
            throw new InvalidParameterValueException($"'dataset.profile' exceeds the maximum length of {TrackingLimits.MaxDatasetProfileLength}.");
        foreach (var tag in input.Tags)
        {
            Require(tag.Key, "input_tag.key", 255);
            Require(tag.Value, "input_tag.value", 500);
        }

        static void Require(string? value, string field, int max)
        {
            if (string.IsNullOrEmpty(value))
                throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
            if (value.Length > max)
                throw new InvalidParameterValueException($"'{field}' exceeds the maximum length of {max}.");
        }
    }

    private static readonly SearchValues<char> IdChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");

    // MLflow refuses names that a POSIX normpath would change ("a//b", "a/./b", "../a", "a/").
    private static bool IsPathLike(string key)
    {
        if (key.StartsWith('/') || key.EndsWith('/') || key.Contains("//", StringComparison.Ordinal)) return true;
        foreach (var part in key.Split('/'))
            if (part is "." or "..") return true;
        return false;
    }

    private static string Normalize(string key)
    {
        var parts = new List<string>();
        foreach (var part in key.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    private static string Capitalize(string s) => char.ToUpperInvariant(s[0]) + s[1..];

    internal static string Truncate(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
