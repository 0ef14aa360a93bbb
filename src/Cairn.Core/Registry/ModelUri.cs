using Cairn.Tracking;

namespace Cairn.Registry;

/// <summary>
/// A model reference as MLflow writes it: <c>runs:/&lt;run_id&gt;/path</c>, <c>models:/name/3</c>, <c>models:/name@alias</c>,
/// <c>models:/name/Production</c> (newest version in the stage) or <c>models:/name/latest</c> (newest version).
/// </summary>
public abstract record ModelUri(string Text)
{
    public const string RunsScheme = "runs:/";
    public const string ModelsScheme = "models:/";

    private const int MaxDepth = 8;

    public sealed record Run(string Text, string RunId, string Path) : ModelUri(Text);

    public sealed record Version(string Text, string Name, string Number) : ModelUri(Text);

    public sealed record Alias(string Text, string Name, string AliasName) : ModelUri(Text);

    /// <summary>The newest version in <see cref="Stage"/>, or the newest of all when <see cref="Stage"/> is null (<c>latest</c>).</summary>
    public sealed record LatestInStage(string Text, string Name, ModelStage? Stage) : ModelUri(Text);

    /// <summary>Whether <paramref name="uri"/> uses a scheme this class resolves (runs:/ or models:/).</summary>
    public static bool IsModelReference(string? uri) =>
        uri is not null && (uri.StartsWith(RunsScheme, StringComparison.Ordinal) || uri.StartsWith(ModelsScheme, StringComparison.Ordinal));

    /// <summary>Parses a runs:/ or models:/ URI; errors name <paramref name="field"/> and the URI.</summary>
    public static ModelUri Parse(string? uri, string field = "model_uri")
    {
        if (string.IsNullOrEmpty(uri))
            throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
        if (uri.StartsWith(RunsScheme, StringComparison.Ordinal))
        {
            var rest = uri[RunsScheme.Length..].TrimStart('/');
            var slash = rest.IndexOf('/');
            var runId = slash < 0 ? rest : rest[..slash];
            var path = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
            if (runId.Length == 0)
                throw Bad(uri, field, "a runs:/ URI names a run: runs:/<run_id>/<artifact path>");
            TrackingValidator.ValidateRunId(runId);
            return new Run(uri, runId, path);
        }
        if (uri.StartsWith(ModelsScheme, StringComparison.Ordinal))
        {
            var rest = uri[ModelsScheme.Length..].Trim('/');
            var slash = rest.LastIndexOf('/');
            if (slash < 0)
            {
                var at = rest.LastIndexOf('@');
                if (at <= 0 || at == rest.Length - 1)
                    throw Bad(uri, field, "expected models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest or models:/<name>@<alias>");
                return new Alias(uri, rest[..at], rest[(at + 1)..]);
            }
            var name = rest[..slash];
            var suffix = rest[(slash + 1)..];
            if (name.Length == 0 || suffix.Length == 0)
                throw Bad(uri, field, "expected models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest or models:/<name>@<alias>");
            if (suffix.All(char.IsAsciiDigit)) return new Version(uri, name, suffix);
            if (suffix.Equals("latest", StringComparison.OrdinalIgnoreCase)) return new LatestInStage(uri, name, null);
            foreach (var stage in Enum.GetValues<ModelStage>())
                if (suffix.Equals(stage.ToString(), StringComparison.OrdinalIgnoreCase)) return new LatestInStage(uri, name, stage);
            throw Bad(uri, field, $"'{suffix}' is neither a version number, a stage (None, Staging, Production, Archived) nor 'latest'");
        }
        throw Bad(uri, field, "expected a runs:/ or models:/ URI");
    }

    /// <summary>
    /// Resolves <paramref name="uri"/> to a concrete artifact location (e.g. <c>mlflow-artifacts:/1/&lt;run&gt;/artifacts/model</c>).
    /// A URI that does not resolve (unknown run, model, version, alias, or an empty stage) is
    /// <see cref="ResourceDoesNotExistException"/> naming <paramref name="field"/> and the URI. Other URIs come back unchanged.
    /// </summary>
    public static Task<string> ResolveAsync(string uri, IRegistryStore registry, ITrackingStore tracking, string field = "model_uri", CancellationToken cancellationToken = default) =>
        ResolveAsync(uri, registry, tracking, field, uri, 0, cancellationToken);

    private static async Task<string> ResolveAsync(string uri, IRegistryStore registry, ITrackingStore tracking, string field, string original, int depth, CancellationToken cancellationToken)
    {
        if (!IsModelReference(uri)) return uri;
        if (depth >= MaxDepth)
            throw new ResourceDoesNotExistException($"Invalid value for '{field}': model URI '{original}' does not resolve: it refers to models:/ URIs more than {MaxDepth} levels deep.");
        var parsed = Parse(uri, field);
        try
        {
            switch (parsed)
            {
                case Run run:
                    var info = (await tracking.GetRunAsync(run.RunId, cancellationToken).ConfigureAwait(false)).Info;
                    return run.Path.Length == 0 ? info.ArtifactUri : $"{info.ArtifactUri.TrimEnd('/')}/{run.Path}";
                default:
                    var version = await FindVersionAsync(parsed, registry, cancellationToken).ConfigureAwait(false);
                    return await ResolveAsync(version.Source, registry, tracking, field, original, depth + 1, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (CairnException e) when (e.ErrorCode is ErrorCode.RESOURCE_DOES_NOT_EXIST or ErrorCode.INVALID_PARAMETER_VALUE && !e.Message.StartsWith("Invalid value for '", StringComparison.Ordinal))
        {
            throw new ResourceDoesNotExistException($"Invalid value for '{field}': model URI '{original}' does not resolve: {e.Message}");
        }
    }

    /// <summary>The model version a models:/ URI names.</summary>
    public static async Task<ModelVersion> FindVersionAsync(ModelUri uri, IRegistryStore registry, CancellationToken cancellationToken = default)
    {
        switch (uri)
        {
            case Version v:
                return await registry.GetModelVersionAsync(v.Name, v.Number, cancellationToken).ConfigureAwait(false);
            case Alias a:
                return await registry.GetModelVersionByAliasAsync(a.Name, a.AliasName, cancellationToken).ConfigureAwait(false);
            case LatestInStage s:
                var latest = await registry.GetLatestVersionsAsync(s.Name, s.Stage is { } stage ? [stage.ToString()] : null, cancellationToken).ConfigureAwait(false);
                return latest.MaxBy(v => long.Parse(v.Version, System.Globalization.CultureInfo.InvariantCulture))
                    ?? throw new ResourceDoesNotExistException(s.Stage is { } st
                        ? $"Registered model '{s.Name}' has no version in stage '{st}'."
                        : $"Registered model '{s.Name}' has no versions.");
            default:
                throw new InvalidParameterValueException($"'{uri.Text}' does not name a model version.");
        }
    }

    private static InvalidParameterValueException Bad(string uri, string field, string rule) =>
        new($"Invalid value for '{field}': model URI '{uri}' is malformed: {rule}.");
}
