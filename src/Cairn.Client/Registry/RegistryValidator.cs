using System.Globalization;
using System.Text.RegularExpressions;
using Cairn.Tracking;

namespace Cairn.Registry;

/// <summary>The registry's rules, checked once before any store sees the request. Messages follow MLflow's.</summary>
public static partial class RegistryValidator
{
    [GeneratedRegex(@"^[\w\-]*$")]
    private static partial Regex AliasChars();

    [GeneratedRegex(@"^[vV]\d+$")]
    private static partial Regex VersionAlias();

    public static void ValidateName(string? name, string field = "name")
    {
        if (string.IsNullOrEmpty(name))
            throw new InvalidParameterValueException($"Registered model name cannot be empty (parameter '{field}').");
        if (name.Length > RegistryLimits.MaxNameLength)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': the registered model name had length {name.Length}, which exceeded length limit of {RegistryLimits.MaxNameLength}.");
    }

    /// <summary>Parses a version number; MLflow sends versions as strings.</summary>
    public static long ParseVersion(string? version)
    {
        if (string.IsNullOrEmpty(version))
            throw new InvalidParameterValueException("Missing value for required parameter 'version'.");
        if (!long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
            throw new InvalidParameterValueException($"Model version must be an integer, got '{version}'");
        return number;
    }

    public static void ValidateTag(string? key, string? value, string kind)
    {
        TrackingValidator.ValidateKey(key, kind);
        if (key!.Length > RegistryLimits.MaxTagKeyLength)
            throw new InvalidParameterValueException($"{kind} key '{key[..20]}...' had length {key.Length}, which exceeded length limit of {RegistryLimits.MaxTagKeyLength}.");
        if (value is null)
            throw new InvalidParameterValueException($"Missing value for required parameter '{kind}.value'.");
        if (value.Length > RegistryLimits.MaxTagValueLength)
            throw new InvalidParameterValueException($"{kind} value for key '{key}' had length {value.Length}, which exceeded length limit of {RegistryLimits.MaxTagValueLength}.");
    }

    public static void ValidateAlias(string? alias)
    {
        if (string.IsNullOrEmpty(alias))
            throw new InvalidParameterValueException("Registered model alias name cannot be empty.");
        if (!AliasChars().IsMatch(alias))
            throw new InvalidParameterValueException($"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_) and dashes (-).");
        if (alias.Length > RegistryLimits.MaxAliasLength)
            throw new InvalidParameterValueException($"Registered model alias name had length {alias.Length}, which exceeded length limit of {RegistryLimits.MaxAliasLength}.");
        if (alias.Equals("latest", StringComparison.OrdinalIgnoreCase))
            throw new InvalidParameterValueException("'latest' alias name (case insensitive) is reserved.");
        if (VersionAlias().IsMatch(alias))
            throw new InvalidParameterValueException($"Version alias name '{alias}' is reserved.");
    }

    public static void ValidateDescription(string? description)
    {
        if (description is not null && description.Length > RegistryLimits.MaxDescriptionLength)
            throw new InvalidParameterValueException($"Invalid value for parameter 'description': it had length {description.Length}, which exceeded length limit of {RegistryLimits.MaxDescriptionLength}.");
    }

    public static void ValidateSource(string? source)
    {
        if (string.IsNullOrEmpty(source))
            throw new InvalidParameterValueException("Missing value for required parameter 'source'.");
        if (source.Length > RegistryLimits.MaxSourceLength)
            throw new InvalidParameterValueException($"Invalid value for parameter 'source': it had length {source.Length}, which exceeded length limit of {RegistryLimits.MaxSourceLength}.");
    }

    public static void ValidateCreateVersion(CreateModelVersionRequest request)
    {
        ValidateName(request.Name);
        ValidateSource(request.Source);
        if (!string.IsNullOrEmpty(request.RunId)) TrackingValidator.ValidateRunId(request.RunId);
        foreach (var tag in request.Tags ?? []) ValidateTag(tag.Key, tag.Value, "model version tag");
        ValidateDescription(request.Description);
    }

    /// <summary>Parses a stage name, case-insensitively as MLflow does ("staging" is Staging).</summary>
    public static ModelStage ParseStage(string? stage)
    {
        foreach (var candidate in Enum.GetValues<ModelStage>())
            if (string.Equals(candidate.ToString(), stage, StringComparison.OrdinalIgnoreCase)) return candidate;
        throw new InvalidParameterValueException($"Invalid Model Version stage: {stage}. Value must be one of None, Staging, Production, Archived.");
    }

    public static void ValidateMaxResults(int maxResults, int threshold)
    {
        if (maxResults < 1 || maxResults > threshold)
            throw new InvalidParameterValueException($"Invalid value {maxResults} for parameter 'max_results' supplied. It must be at least 1 and at most {threshold}.");
    }

    public static string User(string? user) => string.IsNullOrWhiteSpace(user) ? RegistryLimits.UnknownUser : user.Trim();
}
