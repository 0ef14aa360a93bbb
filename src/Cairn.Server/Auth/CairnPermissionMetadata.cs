using Cairn.Access;
using Microsoft.AspNetCore.Builder;

namespace Cairn.Server.Auth;

/// <summary>What an endpoint's permission is about.</summary>
internal enum CairnResource
{
    /// <summary>No experiment or model: authentication alone decides (users, tokens, health).</summary>
    None,
    Experiment,
    RegisteredModel,
    Deployment,
}

/// <summary>Where in the request the target of the check is.</summary>
internal enum CairnTarget
{
    /// <summary>The endpoint has no target.</summary>
    None,

    /// <summary><c>experiment_id</c> (JSON body, then query string).</summary>
    ExperimentId,

    /// <summary><c>run_id</c> or <c>run_uuid</c>: the run's experiment.</summary>
    RunId,

    /// <summary><c>name</c>: a registered model (a model version's model).</summary>
    ModelName,

    /// <summary>An artifact proxy path (<c>&lt;experiment id&gt;/&lt;run&gt;/artifacts/...</c>): its experiment.</summary>
    ArtifactPath,

    /// <summary>A <c>uri</c> query value: a runs:/ URI's experiment or a models:/ URI's model.</summary>
    ModelUri,

    /// <summary>Every <c>run_id</c> and <c>run_ids</c> query value (the UI's bulk metric reads): each run's experiment.</summary>
    RunIds,

    /// <summary>A deployment: the <c>{name}</c> route value, else <c>name</c> (JSON body, then query string).</summary>
    DeploymentName,

    /// <summary>A search: any signed-in user may ask; the endpoint returns only what the caller may read.</summary>
    Filtered,

    /// <summary>A create: any signed-in user may; the creator gets MANAGE on what is created.</summary>
    New,

    /// <summary>Only admins.</summary>
    Admin,
}

/// <summary>
/// The permission an endpoint needs, as endpoint metadata: <see cref="CairnAuthorization"/> checks it before the handler
/// runs (and before any lookup of the target), and the route-table test insists every API route carries one.
/// </summary>
internal sealed record CairnPermissionMetadata(CairnResource Resource, Permission Level, CairnTarget From);

/// <summary>Declares on a route what it needs: <c>.RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.ExperimentId)</c>.</summary>
internal static class CairnPermissionEndpointExtensions
{
    /// <summary>The caller needs <paramref name="level"/> on the experiment or model found at <paramref name="from"/>.</summary>
    public static TBuilder RequireCairnPermission<TBuilder>(this TBuilder builder, CairnResource resource, Permission level, CairnTarget from)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CairnPermissionMetadata(resource, level, from));

    /// <summary>A search over <paramref name="resource"/>: the handler filters what it returns by the caller's READ.</summary>
    public static TBuilder FiltersByCairnPermission<TBuilder>(this TBuilder builder, CairnResource resource)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CairnPermissionMetadata(resource, Permission.Read, CairnTarget.Filtered));

    /// <summary>Creates a <paramref name="resource"/>: authentication is enough, and the handler grants the creator MANAGE.</summary>
    public static TBuilder CreatesCairnResource<TBuilder>(this TBuilder builder, CairnResource resource)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CairnPermissionMetadata(resource, Permission.Manage, CairnTarget.New));

    /// <summary>The endpoint is about no experiment or model (users, tokens, health): authentication alone decides.</summary>
    public static TBuilder WithoutCairnResource<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CairnPermissionMetadata(CairnResource.None, Permission.NoPermissions, CairnTarget.None));

    /// <summary>Only admins may call the endpoint.</summary>
    public static TBuilder RequireCairnAdmin<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new CairnPermissionMetadata(CairnResource.None, Permission.Manage, CairnTarget.Admin));
}
