using Cairn.Access;
using Cairn.Artifacts;
using Cairn.Contracts;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Options;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// MLflow's artifact proxy (<c>/mlflow-artifacts/artifacts/...</c>: upload, download, list, delete) over the server's
/// <see cref="IArtifactStore"/>, and the tracking API's <c>artifacts/list</c> for a run.
/// </summary>
internal static class ArtifactEndpoints
{
    private const string ProxyMarker = "/mlflow-artifacts/artifacts";

    // MLflow's mime_type_utils: these are served as text/plain so the UI can show them; the rest by extension.
    private static readonly HashSet<string> s_textExtensions = new(StringComparer.Ordinal)
    {
        "txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon", "toml", "yaml", "yml",
        "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst", "MLmodel", "MLproject",
    };

    private static readonly FileExtensionContentTypeProvider s_contentTypes = new();

    /// <summary>Maps the proxy routes onto a <c>.../mlflow-artifacts</c> group.</summary>
    public static void MapArtifactProxyEndpoints(this IEndpointRouteBuilder api)
    {
        api.MapGet("artifacts", ListProxyAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.ArtifactPath);
        api.MapGet("artifacts/{**path}", DownloadAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.ArtifactPath);
        api.MapPut("artifacts/{**path}", UploadAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.ArtifactPath);
        api.MapDelete("artifacts/{**path}", DeleteAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Manage, from: CairnTarget.ArtifactPath);
    }

    /// <summary>Maps <c>artifacts/list</c> and the UI's <c>upload-artifact</c> onto a <c>.../mlflow</c> group.</summary>
    public static void MapArtifactListEndpoint(this IEndpointRouteBuilder api)
    {
        api.MapGet("artifacts/list", ListRunAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.RunId);
        api.MapPost("upload-artifact", UploadRunArtifactAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Edit, from: CairnTarget.RunId);
    }

    /// <summary>Maps MLflow's <c>/get-artifact</c> (a run's file by run id and path, as the UI and tools fetch it) onto the root.</summary>
    public static void MapRunArtifactDownload(this IEndpointRouteBuilder app) => app.MapGet("/get-artifact", DownloadRunArtifactAsync).RequireCairnPermission(CairnResource.Experiment, Permission.Read, from: CairnTarget.RunId);

    /// <summary>MLflow's limit on a file sent to <c>upload-artifact</c>: the whole body is held in memory.</summary>
    internal const int MaxUploadArtifactBytes = 10 * 1024 * 1024;

    /// <summary>
    /// MLflow's <c>upload-artifact</c>: the raw body becomes the file <c>path</c> under the run's artifact root, with
    /// MLflow's checks in MLflow's order (run_uuid, path, path safety, size, data, then the run).
    /// </summary>
    private static async Task<IResult> UploadRunArtifactAsync(HttpContext context, ITrackingStore tracking, ArtifactLocationResolver resolver)
    {
        var request = context.Request;
        var runId = Query(request, "run_uuid");
        if (string.IsNullOrEmpty(runId)) throw new InvalidParameterValueException("Request must specify run_uuid.");
        var rawPath = Query(request, "path");
        if (string.IsNullOrEmpty(rawPath)) throw new InvalidParameterValueException("Request must specify path.");
        var path = SafePath(rawPath);
        if (request.ContentLength > MaxUploadArtifactBytes)
            throw new InvalidParameterValueException("Artifact size is too large. Max size is 10MB.");
        using var data = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            if (data.Length + read > MaxUploadArtifactBytes)
                throw new InvalidParameterValueException("Artifact size is too large. Max size is 10MB.");
            data.Write(buffer, 0, read);
        }
        if (data.Length == 0) throw new InvalidParameterValueException("Request must specify data.");
        var run = await tracking.GetRunAsync(runId, context.RequestAborted);
        var location = resolver.Resolve(run.Info.ArtifactUri);
        data.Position = 0;
        await location.Store.WriteAsync(location.PathOf(path), data, context.RequestAborted);
        return ExperimentEndpoints.EmptyResult();
    }

    private static async Task<IResult> DownloadRunArtifactAsync(HttpContext context, ITrackingStore tracking, ArtifactLocationResolver resolver)
    {
        var request = context.Request;
        var path = SafePath(Required(Query(request, "path"), "path"));
        var run = await tracking.GetRunAsync(RunId(Query(request, "run_id"), Query(request, "run_uuid")), context.RequestAborted);
        var location = resolver.Resolve(run.Info.ArtifactUri);
        var stream = await location.Store.OpenReadAsync(location.PathOf(path), context.RequestAborted);
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.File(stream, ContentTypeOf(ArtifactPath.FileName(path)), ArtifactPath.FileName(path));
    }

    /// <summary>The checked path, refused with MLflow's "Invalid path" (which its clients look for) followed by the rule.</summary>
    private static string SafePath(string path)
    {
        try
        {
            var normalized = ArtifactPath.Normalize(path);
            return normalized.Length == 0 ? throw new InvalidParameterValueException($"Invalid value '{path}' for parameter 'path': it names no file.") : normalized;
        }
        catch (InvalidParameterValueException e)
        {
            throw new InvalidParameterValueException($"Invalid path: {e.Message}");
        }
    }

    /// <summary>
    /// Refuses traversal in the raw request target before routing sees it. Kestrel decodes <c>%2e</c> and removes
    /// dot segments, so <c>artifacts/%2e%2e/%2e%2e/x</c> would otherwise quietly become another URL (and a 404);
    /// a client asking for that deserves INVALID_PARAMETER_VALUE, as MLflow answers.
    /// </summary>
    public static IApplicationBuilder UseArtifactPathGuard(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (RawProxyPath(context) is { } raw) ArtifactPath.FromUrl(raw);
            await next(context);
        });

    private static async Task<IResult> ListProxyAsync(HttpContext context, IArtifactStore store)
    {
        var path = ArtifactPath.Normalize(Query(context.Request, "path"));
        var files = await store.ListAsync(path, context.RequestAborted);
        // Like MLflow's _list_artifacts_mlflow_artifacts: children by base name; the client joins them to its path.
        return Results.Json(new ListArtifactsProxyResponse
        {
            Files = files.Count == 0 ? null : files.Select(f => ToWire(f, ArtifactPath.FileName(f.Path))).ToList(),
        }, MlflowJson.Wire.ListArtifactsProxyResponse);
    }

    private static async Task<IResult> DownloadAsync(HttpContext context, IArtifactStore store)
    {
        var path = ProxyPath(context);
        var stream = await store.OpenReadAsync(path, context.RequestAborted);
        // Always an attachment, never sniffed: artifacts are user content served from the server's origin (MLflow does the same).
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.File(stream, ContentTypeOf(ArtifactPath.FileName(path)), ArtifactPath.FileName(path));
    }

    private static async Task<IResult> UploadAsync(HttpContext context, IArtifactStore store, IOptions<CairnLimitsOptions> limits)
    {
        var path = ProxyPath(context);
        var limit = limits.Value.MaxArtifactBytes;
        // Kestrel's global limit is sized for JSON; artifacts get their own (null: unlimited, the body is streamed to disk).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            bodySize.MaxRequestBodySize = limit;
        // Refused before a byte is read: a client that sent "Expect: 100-continue" never sends the body at all.
        if (limit is { } max && context.Request.ContentLength > max) return TooLarge(context, max);
        try
        {
            await store.WriteAsync(path, context.Request.Body, context.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge && limit is { } max2)
        {
            return TooLarge(context, max2);
        }
        return ExperimentEndpoints.EmptyResult();
    }

    private static async Task<IResult> DeleteAsync(HttpContext context, IArtifactStore store)
    {
        // MLflow answers 200 whether or not anything was there.
        await store.DeleteAsync(ProxyPath(context), context.RequestAborted);
        return ExperimentEndpoints.EmptyResult();
    }

    private static async Task<IResult> ListRunAsync(HttpContext context, ITrackingStore tracking, ArtifactLocationResolver resolver)
    {
        var request = context.Request;
        var run = await tracking.GetRunAsync(RunId(Query(request, "run_id"), Query(request, "run_uuid")), context.RequestAborted);
        var relative = ArtifactPath.Normalize(Query(request, "path"));
        var location = resolver.Resolve(run.Info.ArtifactUri);
        var files = await location.Store.ListAsync(location.PathOf(relative), context.RequestAborted);
        // Paths are relative to the run's artifact root and keep the listed folder (MLflow's list_artifacts_impl).
        // Local listings come in one page, as in MLflow, so there is never a next_page_token.
        return Results.Json(new ListArtifactsResponse
        {
            RootUri = run.Info.ArtifactUri,
            Files = files.Count == 0 ? null : files.Select(f => ToWire(f, ArtifactPath.Join(relative, ArtifactPath.FileName(f.Path)))).ToList(),
        }, MlflowJson.Wire.ListArtifactsResponse);
    }

    private static FileInfoMessage ToWire(ArtifactFileInfo file, string path) =>
        new() { Path = path, IsDir = file.IsDir, FileSize = file.FileSize };

    private static IResult TooLarge(HttpContext context, long max)
    {
        // The rest of the body is not read, so the connection cannot carry another request.
        context.Response.Headers.Connection = "close";
        return Results.Json(new ErrorResponse
        {
            ErrorCode = nameof(ErrorCode.REQUEST_LIMIT_EXCEEDED),
            Message = $"The artifact is larger than the server accepts ({max} bytes; see the server's MaxArtifactBytes).",
        }, MlflowJson.Wire.ErrorResponse, statusCode: StatusCodes.Status413PayloadTooLarge);
    }

    /// <summary>
    /// The artifact path of a proxy request, taken from the raw request target (undecoded, dot segments intact) so
    /// what is checked is what the client sent; falls back to the route value when the target does not show it.
    /// </summary>
    internal static string ProxyPath(HttpContext context)
    {
        var path = RawProxyPath(context) is { } raw
            ? ArtifactPath.FromUrl(raw)
            : ArtifactPath.Normalize(context.Request.RouteValues["path"] as string);
        return path.Length == 0
            ? throw new InvalidParameterValueException("Missing value for required parameter 'path': the URL must name an artifact after /mlflow-artifacts/artifacts/.")
            : path;
    }

    private static string? RawProxyPath(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw)) return null;
        var query = raw.IndexOf('?');
        if (query >= 0) raw = raw[..query];
        var at = raw.IndexOf(ProxyMarker, StringComparison.OrdinalIgnoreCase);
        if (at < 0) return null;
        var rest = raw[(at + ProxyMarker.Length)..];
        // "artifacts" alone is the listing; "artifactsX" is some other URL.
        return rest.Length > 0 && rest[0] == '/' ? rest[1..] : null;
    }

    private static string ContentTypeOf(string fileName)
    {
        var dot = fileName.LastIndexOf('.');
        var extension = dot < 0 ? fileName : fileName[(dot + 1)..];
        if (s_textExtensions.Contains(extension)) return "text/plain";
        return s_contentTypes.TryGetContentType(fileName, out var type) ? type : "application/octet-stream";
    }
}
