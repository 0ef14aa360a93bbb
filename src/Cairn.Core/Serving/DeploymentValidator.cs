using System.Text.RegularExpressions;
using Cairn.Registry;

namespace Cairn.Serving;

/// <summary>
/// The rules of a deployment, checked once before any store sees it. Each refusal is one <see cref="InvalidParameterValueException"/>
/// naming the field (<c>routes[1].weight</c>) and the rule it breaks.
/// </summary>
public static partial class DeploymentValidator
{
    /// <summary>The most routes (primary and shadow together) one deployment may have.</summary>
    public const int MaxRoutes = 10;

    /// <summary>The longest sticky header or field name.</summary>
    public const int MaxStickyNameLength = 128;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex NameChars();

    // RFC 9110's token: the characters a header name may have.
    [GeneratedRegex(@"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")]
    private static partial Regex HeaderToken();

    /// <summary>
    /// A deployment name: as long as a registered model's may be, and, since it is a segment of REST paths, only letters,
    /// digits, '.', '_' and '-', starting with a letter or digit.
    /// </summary>
    public static void ValidateName(string? name, string field = "name")
    {
        if (string.IsNullOrEmpty(name))
            throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
        if (name.Length > RegistryLimits.MaxNameLength)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': the deployment name had length {name.Length}, which exceeded length limit of {RegistryLimits.MaxNameLength}.");
        if (!NameChars().IsMatch(name))
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': deployment name '{name}' may only contain letters, digits, '.', '_' and '-', and must start with a letter or digit.");
    }

    public static void ValidateDescription(string? description) => RegistryValidator.ValidateDescription(description);

    public static void ValidateSticky(StickyKey? sticky, string field = "sticky")
    {
        if (sticky is null) return;
        var name = sticky.Name;
        var what = sticky.Source == StickyKeySource.Header ? "sticky_header" : "sticky_field";
        if (!Enum.IsDefined(sticky.Source))
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': the sticky key comes from a header or a field.");
        if (string.IsNullOrEmpty(name))
            throw new InvalidParameterValueException($"Invalid value for parameter '{what}': the name cannot be empty.");
        if (name.Length > MaxStickyNameLength)
            throw new InvalidParameterValueException($"Invalid value for parameter '{what}': the name had length {name.Length}, which exceeded length limit of {MaxStickyNameLength}.");
        if (sticky.Source == StickyKeySource.Header && !HeaderToken().IsMatch(name))
            throw new InvalidParameterValueException($"Invalid value for parameter '{what}': '{name}' is not a header name (letters, digits and !#$%&'*+-.^_`|~ only).");
        if (sticky.Source == StickyKeySource.Field && name.Any(char.IsControl))
            throw new InvalidParameterValueException($"Invalid value for parameter '{what}': the field name contains control characters.");
    }

    /// <summary>
    /// Parses a route's model URI: only <c>models:/name/version</c> and <c>models:/name@alias</c>, with the registry's rules for
    /// the name and the alias.
    /// </summary>
    public static ModelUri ParseRouteUri(string? uri, string field)
    {
        if (uri is not null && !uri.StartsWith(ModelUri.ModelsScheme, StringComparison.Ordinal))
            throw new InvalidParameterValueException($"Invalid value for '{field}': '{uri}' is not a models:/ URI; a route names a registered model as models:/<name>@<alias> or models:/<name>/<version>.");
        var parsed = ModelUri.Parse(uri, field);
        switch (parsed)
        {
            case ModelUri.Version v:
                RegistryValidator.ValidateName(v.Name, field);
                RegistryValidator.ParseVersion(v.Number);
                return v;
            case ModelUri.Alias a:
                RegistryValidator.ValidateName(a.Name, field);
                try
                {
                    RegistryValidator.ValidateAlias(a.AliasName);
                }
                catch (InvalidParameterValueException e)
                {
                    throw new InvalidParameterValueException($"Invalid value for '{field}': {e.Message}");
                }
                return a;
            default:
                throw new InvalidParameterValueException($"Invalid value for '{field}': '{uri}' names a stage or 'latest'; a route names a registered model as models:/<name>@<alias> or models:/<name>/<version>.");
        }
    }

    /// <summary>The registered model a route's URI names (the URI must have passed <see cref="ValidateRoutes"/>).</summary>
    public static string ModelName(DeploymentRoute route) => ModelUri.Parse(route.ModelUri) switch
    {
        ModelUri.Version v => v.Name,
        ModelUri.Alias a => a.Name,
        var other => throw new InvalidParameterValueException($"'{other.Text}' does not name a registered model version or alias."),
    };

    /// <summary>
    /// The routing rules: 1 to <see cref="MaxRoutes"/> routes; models:/ URIs by version or alias; at least one primary route;
    /// primary weights in 0..100 summing to 100; shadows without weight; no URI twice in one role; at most one canary,
    /// and it is primary.
    /// </summary>
    public static void ValidateRoutes(IReadOnlyList<DeploymentRoute>? routes, string field = "routes")
    {
        if (routes is null || routes.Count == 0)
            throw new InvalidParameterValueException($"Missing value for required parameter '{field}': a deployment has at least one primary route.");
        if (routes.Count > MaxRoutes)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': {routes.Count} routes, more than the limit of {MaxRoutes}.");
        var seen = new HashSet<(string, RouteRole)>();
        var sum = 0;
        var primaries = 0;
        var canaries = 0;
        for (var i = 0; i < routes.Count; i++)
        {
            var route = routes[i] ?? throw new InvalidParameterValueException($"Invalid value for parameter '{field}[{i}]': a route cannot be null.");
            var at = $"{field}[{i}]";
            ParseRouteUri(route.ModelUri, at + ".model_uri");
            if (!Enum.IsDefined(route.Role))
                throw new InvalidParameterValueException($"Invalid value for parameter '{at}.role': expected primary or shadow.");
            if (!seen.Add((route.ModelUri, route.Role)))
                throw new InvalidParameterValueException($"Invalid value for parameter '{at}.model_uri': '{route.ModelUri}' appears twice as a {Role(route.Role)} route.");
            if (route.Role == RouteRole.Shadow)
            {
                if (route.Weight is not null)
                    throw new InvalidParameterValueException($"Invalid value for parameter '{at}.weight': a shadow route takes no weight (it sees every request and never answers).");
                if (route.Canary)
                    throw new InvalidParameterValueException($"Invalid value for parameter '{at}.canary': a canary route is a primary route.");
                continue;
            }
            primaries++;
            if (route.Weight is not { } weight)
                throw new InvalidParameterValueException($"Missing value for required parameter '{at}.weight': a primary route has a weight from 0 to 100.");
            if (weight is < 0 or > 100)
                throw new InvalidParameterValueException($"Invalid value for parameter '{at}.weight': {weight} is outside 0..100.");
            sum += weight;
            if (route.Canary) canaries++;
        }
        if (primaries == 0)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': a deployment has at least one primary route (all {routes.Count} are shadows).");
        if (sum != 100)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': the weights of the primary routes sum to {sum}; they must sum to 100.");
        if (canaries > 1)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': {canaries} routes are marked canary; at most one is.");
    }

    public static void ValidateSpec(DeploymentSpec? spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ValidateName(spec.Name);
        ValidateRoutes(spec.Routes);
        ValidateSticky(spec.Sticky);
        ValidateDescription(spec.Description);
        ValidateLogSampleRate(spec.LogSampleRate);
    }

    public static void ValidateUpdate(DeploymentUpdate? update)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.Routes is not null) ValidateRoutes(update.Routes);
        ValidateSticky(update.Sticky);
        ValidateDescription(update.Description);
        if (update.ClearSticky && update.Sticky is not null)
            throw new InvalidParameterValueException("Invalid value for parameter 'sticky': a change either sets the sticky key or clears it, not both.");
        ValidateLogSampleRate(update.LogSampleRate);
        if (update.ClearLogSampleRate && update.LogSampleRate is not null)
            throw new InvalidParameterValueException("Invalid value for parameter 'log_sample_rate': a change either sets the log sample rate or clears it, not both.");
        if (update.Routes is null && update.Description is null && update.Sticky is null && !update.ClearSticky && update.LogSampleRate is null && !update.ClearLogSampleRate)
            throw new InvalidParameterValueException("Missing value for required parameter 'routes': the change sets nothing (give routes, description, a sticky key or a log sample rate).");
    }

    /// <summary>A prediction log sample rate: a number from 0 (log nothing) to 1 (log every request).</summary>
    public static void ValidateLogSampleRate(double? rate)
    {
        if (rate is { } r && !(r is >= 0 and <= 1))
            throw new InvalidParameterValueException($"Invalid value for parameter 'log_sample_rate': {r.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not between 0 and 1.");
    }

    /// <summary>A canary percentage: 1..99 (0 is no canary; 100 is <c>promote</c>).</summary>
    public static void ValidatePercent(int percent, string field = "percent")
    {
        if (percent is < 1 or > 99)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': {percent} is outside 1..99 (a canary takes part of the traffic; promote gives it all).");
    }

    private static string Role(RouteRole role) => role == RouteRole.Shadow ? "shadow" : "primary";
}
