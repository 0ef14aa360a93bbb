using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Serving;

/// <summary>A route on the wire (and in the database's routes column).</summary>
internal sealed class RouteMessage
{
    public string? ModelUri { get; set; }

    public int? Weight { get; set; }

    /// <summary><c>primary</c> (the default) or <c>shadow</c>.</summary>
    public string? Role { get; set; }

    public bool? Canary { get; set; }
}

/// <summary>A deployment as <c>/api/cairn/v1/deployments</c> answers it.</summary>
internal sealed class DeploymentMessage
{
    public string Name { get; set; } = "";

    public string? Description { get; set; }

    public List<RouteMessage>? Routes { get; set; }

    public string? StickyHeader { get; set; }

    public string? StickyField { get; set; }

    public long Revision { get; set; }

    public long CreationTimestamp { get; set; }

    public string? CreatedBy { get; set; }

    public long LastUpdatedTimestamp { get; set; }

    public string? UpdatedBy { get; set; }

    /// <summary>The share of requests the prediction log keeps; absent when the server's rate applies.</summary>
    public double? LogSampleRate { get; set; }
}

/// <summary>The body of create (POST) and update (PATCH /{name}); update replaces only what it sets.</summary>
internal sealed class DeploymentRequest
{
    public string? Name { get; set; }

    public string? Description { get; set; }

    public List<RouteMessage>? Routes { get; set; }

    public string? StickyHeader { get; set; }

    public string? StickyField { get; set; }

    /// <summary>Update only: remove the sticky key.</summary>
    public bool? ClearSticky { get; set; }

    /// <summary>The share (0 to 1) of requests the prediction log keeps.</summary>
    public double? LogSampleRate { get; set; }

    /// <summary>Update only: follow the server's sample rate again.</summary>
    public bool? ClearLogSampleRate { get; set; }
}

/// <summary>The body of POST /{name}/canary.</summary>
internal sealed class CanaryRequest
{
    public string? ModelUri { get; set; }

    public int? Percent { get; set; }
}

internal sealed class DeploymentResponse
{
    public DeploymentMessage? Deployment { get; set; }
}

internal sealed class DeploymentsResponse
{
    public List<DeploymentMessage>? Deployments { get; set; }
}

internal sealed class DeploymentRevisionMessage
{
    public long Revision { get; set; }

    public string Action { get; set; } = "";

    public List<RouteMessage>? Routes { get; set; }

    public string? StickyHeader { get; set; }

    public string? StickyField { get; set; }

    public long? RestoredRevision { get; set; }

    public string UserId { get; set; } = "";

    public long Timestamp { get; set; }
}

internal sealed class DeploymentHistoryResponse
{
    public List<DeploymentRevisionMessage>? Revisions { get; set; }
}

/// <summary>The empty answer (<c>{}</c>) of delete, and the empty body the client sends with it.</summary>
internal sealed class DeploymentEmpty;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(DeploymentRequest))]
[JsonSerializable(typeof(CanaryRequest))]
[JsonSerializable(typeof(DeploymentResponse))]
[JsonSerializable(typeof(DeploymentsResponse))]
[JsonSerializable(typeof(DeploymentHistoryResponse))]
[JsonSerializable(typeof(DeploymentEmpty))]
[JsonSerializable(typeof(List<RouteMessage>))]
internal sealed partial class DeploymentJson : JsonSerializerContext;

/// <summary>Domain to wire and back; wire values that break a rule are refused naming the field.</summary>
internal static class DeploymentWire
{
    public static RouteMessage ToWire(this DeploymentRoute route) => new()
    {
        ModelUri = route.ModelUri,
        Weight = route.Weight,
        Role = route.Role == RouteRole.Shadow ? "shadow" : "primary",
        Canary = route.Canary ? true : null,
    };

    public static List<RouteMessage> ToWire(this IEnumerable<DeploymentRoute> routes) => routes.Select(ToWire).ToList();

    public static DeploymentMessage ToWire(this Deployment d) => new()
    {
        Name = d.Name,
        Description = d.Description,
        Routes = d.Routes.ToWire(),
        StickyHeader = d.Sticky is { Source: StickyKeySource.Header } h ? h.Name : null,
        StickyField = d.Sticky is { Source: StickyKeySource.Field } f ? f.Name : null,
        Revision = d.Revision,
        CreationTimestamp = d.CreationTime,
        CreatedBy = d.CreatedBy,
        LastUpdatedTimestamp = d.LastUpdatedTime,
        UpdatedBy = d.UpdatedBy,
        LogSampleRate = d.LogSampleRate,
    };

    public static DeploymentRevisionMessage ToWire(this DeploymentRevision r) => new()
    {
        Revision = r.Revision,
        Action = r.Action,
        Routes = r.Routes.ToWire(),
        StickyHeader = r.Sticky is { Source: StickyKeySource.Header } h ? h.Name : null,
        StickyField = r.Sticky is { Source: StickyKeySource.Field } f ? f.Name : null,
        RestoredRevision = r.RestoredRevision,
        UserId = r.User,
        Timestamp = r.Timestamp,
    };

    public static DeploymentRoute ToDomain(this RouteMessage? m, string field)
    {
        if (m is null) throw new InvalidParameterValueException($"Invalid value for parameter '{field}': a route cannot be null.");
        var role = m.Role switch
        {
            null or "" or "primary" => RouteRole.Primary,
            "shadow" => RouteRole.Shadow,
            _ => throw new InvalidParameterValueException($"Invalid value for parameter '{field}.role': '{m.Role}' is neither 'primary' nor 'shadow'."),
        };
        return new DeploymentRoute(m.ModelUri ?? "", m.Weight, role, m.Canary ?? false);
    }

    public static List<DeploymentRoute>? ToDomain(this List<RouteMessage>? routes, string field = "routes") =>
        routes?.Select((r, i) => r.ToDomain($"{field}[{i}]")).ToList();

    public static Deployment ToDomain(this DeploymentMessage m) => new(
        m.Name, m.Description, m.Routes.ToDomain() ?? [], Sticky(m.StickyHeader, m.StickyField), m.Revision,
        m.CreationTimestamp, m.CreatedBy, m.LastUpdatedTimestamp, m.UpdatedBy) { LogSampleRate = m.LogSampleRate };

    public static DeploymentRevision ToDomain(this DeploymentRevisionMessage m, string name) => new(
        name, m.Revision, m.Action, m.Routes.ToDomain() ?? [], Sticky(m.StickyHeader, m.StickyField), m.RestoredRevision, m.UserId, m.Timestamp);

    /// <summary>The sticky key named by a header or a field (not both); null when neither is given.</summary>
    public static StickyKey? Sticky(string? header, string? field) => (header, field) switch
    {
        ({ Length: > 0 }, { Length: > 0 }) => throw new InvalidParameterValueException(
            "Invalid value for parameter 'sticky_field': a deployment's sticky key comes from a header or a field, not both (sticky_header is set too)."),
        ({ Length: > 0 } h, _) => StickyKey.Header(h),
        (_, { Length: > 0 } f) => StickyKey.Field(f),
        _ => null,
    };

    public static DeploymentRequest ToRequest(this DeploymentSpec spec) => new()
    {
        Name = spec.Name,
        Description = spec.Description,
        Routes = spec.Routes.ToWire(),
        StickyHeader = spec.Sticky is { Source: StickyKeySource.Header } h ? h.Name : null,
        StickyField = spec.Sticky is { Source: StickyKeySource.Field } f ? f.Name : null,
        LogSampleRate = spec.LogSampleRate,
    };

    public static DeploymentRequest ToRequest(this DeploymentUpdate update) => new()
    {
        Description = update.Description,
        Routes = update.Routes?.ToWire(),
        StickyHeader = update.Sticky is { Source: StickyKeySource.Header } h ? h.Name : null,
        StickyField = update.Sticky is { Source: StickyKeySource.Field } f ? f.Name : null,
        ClearSticky = update.ClearSticky ? true : null,
        LogSampleRate = update.LogSampleRate,
        ClearLogSampleRate = update.ClearLogSampleRate ? true : null,
    };

    public static DeploymentSpec ToSpec(this DeploymentRequest r) =>
        new(r.Name ?? "", r.Routes.ToDomain() ?? [], Sticky(r.StickyHeader, r.StickyField), r.Description, r.LogSampleRate);

    public static DeploymentUpdate ToUpdate(this DeploymentRequest r) =>
        new(r.Routes.ToDomain(), r.Description, Sticky(r.StickyHeader, r.StickyField), r.ClearSticky ?? false, r.LogSampleRate, r.ClearLogSampleRate ?? false);
}
