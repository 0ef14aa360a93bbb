using System.Text.Json;
using Cairn.Access;
using Cairn.Artifacts;
using Cairn.Registry;
using Cairn.Server.Endpoints;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Server.Auth;

/// <summary>
/// The one place permissions are enforced: after routing and authentication, before the handler, it reads the endpoint's
/// <see cref="CairnPermissionMetadata"/>, finds the target in the request the way the handler will (the same fields, the
/// same precedence of body over query string), and answers 403 PERMISSION_DENIED when the caller's permission is short of
/// what the endpoint needs. The check reads only grants and a run's experiment id, never the target itself, so a denied
/// caller gets the same answer whether the target exists or not. With access control off it does nothing.
/// </summary>
internal static class CairnAuthorization
{
    /// <summary>Adds the check to the pipeline (after authentication, which the host adds before its own middleware).</summary>
    public static IApplicationBuilder UseCairnAuthorization(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var access = context.RequestServices.GetRequiredService<CairnAccess>();
            if (!access.Enabled || await AllowedAsync(context, access)) await next(context);
        });

    /// <summary>True when the request may go on; otherwise the refusal has been written.</summary>
    private static async Task<bool> AllowedAsync(HttpContext context, CairnAccess access)
    {
        if (context.GetEndpoint() is not { } endpoint) return true; // unmatched: the fallback answers
        var required = endpoint.Metadata.GetMetadata<CairnPermissionMetadata>();
        if (required is null)
        {
            // Fail closed: an API route that declares nothing is refused rather than left open.
            var path = context.Request.Path;
            if (!path.StartsWithSegments("/api") && !path.StartsWithSegments("/ajax-api")) return true;
            return await DenyAsync(context, $"The endpoint {context.Request.Method} {path} declares no permission.");
        }
        if (required.Resource == CairnResource.None && required.From != CairnTarget.Admin) return true;

        var user = context.User;
        if (user.UserId() is null)
        {
            // Authentication normally answered already; a handler that let an anonymous request through is refused here.
            context.Response.Headers.WWWAuthenticate = CairnAuthenticationHandler.Challenge;
            await MlflowExceptionHandler.WriteErrorAsync(context, 401, nameof(ErrorCode.UNAUTHENTICATED),
                "You must be authenticated to use this endpoint.", context.RequestAborted);
            return false;
        }
        if (access.IsUnrestricted(user)) return true;

        var cancellationToken = context.RequestAborted;
        Permission? held = required.From switch
        {
            CairnTarget.Filtered or CairnTarget.New => null,
            CairnTarget.Admin => Permission.NoPermissions,
            CairnTarget.ExperimentId => await access.ExperimentAsync(user, await FieldAsync(context, "experiment_id"), cancellationToken),
            CairnTarget.RunId => await access.RunAsync(user, await RunIdAsync(context), cancellationToken),
            CairnTarget.RunIds => await LeastOfRunsAsync(context, access, cancellationToken),
            CairnTarget.ModelName => await access.RegisteredModelAsync(user, await FieldAsync(context, "name"), cancellationToken),
            CairnTarget.DeploymentName => await access.DeploymentAsync(user,
                context.Request.RouteValues.TryGetValue("name", out var routeName) ? routeName as string : await FieldAsync(context, "name"), cancellationToken),
            CairnTarget.ArtifactPath => ArtifactExperiment(context) is { } experimentId
                ? await access.ExperimentAsync(user, experimentId, cancellationToken)
                : Permission.NoPermissions, // outside any experiment's folder: admins only
            CairnTarget.ModelUri => ModelUri.Parse(MlflowRequest.Query(context.Request, "uri"), "uri") switch
            {
                ModelUri.Run run => await access.RunAsync(user, run.RunId, cancellationToken),
                ModelUri.Version v => await access.RegisteredModelAsync(user, v.Name, cancellationToken),
                ModelUri.Alias a => await access.RegisteredModelAsync(user, a.Name, cancellationToken),
                ModelUri.LatestInStage l => await access.RegisteredModelAsync(user, l.Name, cancellationToken),
                _ => Permission.NoPermissions,
            },
            _ => Permission.NoPermissions,
        };
        if (held is null || held >= required.Level) return true;
        var what = required.Resource switch
        {
            CairnResource.RegisteredModel => "registered model",
            CairnResource.Deployment => "deployment",
            _ => "experiment",
        };
        return await DenyAsync(context, required.From == CairnTarget.Admin
            ? "Only an admin may use this endpoint."
            : $"Permission denied: this needs {required.Level.Name()} on the {what}.");
    }

    private static async Task<bool> DenyAsync(HttpContext context, string message)
    {
        await MlflowExceptionHandler.WriteErrorAsync(context, 403, nameof(ErrorCode.PERMISSION_DENIED), message, context.RequestAborted);
        return false;
    }

    /// <summary>The lowest permission the caller holds on the runs a bulk read names (the endpoints bound their number).</summary>
    private static async Task<Permission> LeastOfRunsAsync(HttpContext context, CairnAccess access, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        var runIds = query["run_id"].Concat(query["run_ids"]).OfType<string>().Where(id => id.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        // More than the endpoints accept: they refuse it with their own message; no grants are read for it.
        if (runIds.Count is 0 or > 100) return Permission.Manage;
        var least = Permission.Manage;
        foreach (var runId in runIds)
        {
            var held = await access.RunAsync(context.User, runId, cancellationToken);
            if (held < least) least = held;
        }
        return least;
    }

    /// <summary>MLflow's run_id, or the older run_uuid when run_id is missing or empty (as <see cref="MlflowRequest.RunId"/> reads them).</summary>
    private static async Task<string?> RunIdAsync(HttpContext context)
    {
        var runId = await FieldAsync(context, "run_id");
        return string.IsNullOrEmpty(runId) ? await FieldAsync(context, "run_uuid") : runId;
    }

    /// <summary>
    /// A string field of the request as the handlers read it: a GET's from the query string (its last value); otherwise from the
    /// JSON body, falling back to the query string when the body does not set it. The body is buffered so the handler reads it again.
    /// </summary>
    private static async Task<string?> FieldAsync(HttpContext context, string name)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && await BodyAsync(context) is { } body
            && body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
            return value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return MlflowRequest.Query(request, name);
    }

    private static async Task<JsonElement?> BodyAsync(HttpContext context)
    {
        var request = context.Request;
        // Only a JSON body carries fields (a raw upload is never buffered or parsed here).
        return request.HasJsonContentType() && request.ContentLength is not 0 && (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
            ? await MlflowRequest.PeekAsync(request)
            : null;
    }

    /// <summary>The experiment an artifact proxy path belongs to (its first segment); null when it is no experiment's folder.</summary>
    private static string? ArtifactExperiment(HttpContext context)
    {
        var path = context.Request.RouteValues.ContainsKey("path")
            ? ArtifactEndpoints.ProxyPath(context)
            : ArtifactPath.Normalize(MlflowRequest.Query(context.Request, "path"));
        var first = path.Split('/', 2)[0];
        // Only an experiment's own folder ("7", not "007", which is another folder) belongs to it.
        return first.Length > 0 && first.All(char.IsAsciiDigit) && (first == "0" || first[0] != '0') ? first : null;
    }
}
