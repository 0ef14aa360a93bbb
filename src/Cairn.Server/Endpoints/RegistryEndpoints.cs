using Cairn.Access;
using Cairn.Contracts;
using Cairn.Registry;
using Cairn.Server.Auth;
using Cairn.Tracking;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// MLflow's registered-models/* and model-versions/* endpoints (model_registry.proto). The Python client sends GET
/// parameters in the query string and everything else, DELETE and PATCH included, as a JSON body; fields missing from
/// a body are also looked up in the query string so either form works.
/// </summary>
internal static class RegistryEndpoints
{
    /// <summary>Who an alias or stage change is recorded for in the audit trail.</summary>
    public const string UserHeader = "X-Cairn-User";

    public static void MapRegistryEndpoints(this IEndpointRouteBuilder api)
    {
        var json = RegistryJson.Wire;

        // ---- registered models ---------------------------------------------------------------
        api.MapPost("registered-models/create", async (HttpRequest request, IRegistryStore store, CairnAccess access) =>
        {
            var body = await ReadAsync(request, json.RegistryRequest);
            var model = await store.CreateRegisteredModelAsync(Required(body.Name, "name"),
                body.Tags?.Select(t => new RegisteredModelTag(Required(t.Key, "tags.key"), t.Value ?? "")).ToList(), body.Description, request.HttpContext.RequestAborted);
            await access.GrantCreatorAsync(request.HttpContext, CairnResource.RegisteredModel, model.Name);
            return ModelResult(model);
        }).CreatesCairnResource(CairnResource.RegisteredModel);

        api.MapGet("registered-models/get", async (HttpRequest request, IRegistryStore store) =>
            ModelResult(await store.GetRegisteredModelAsync(Required(Query(request, "name"), "name"), request.HttpContext.RequestAborted))).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelName);

        api.MapPost("registered-models/rename", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            return ModelResult(await store.RenameRegisteredModelAsync(Required(body.Name, "name"), Required(body.NewName, "new_name"), request.HttpContext.RequestAborted));
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapPatch("registered-models/update", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            return ModelResult(await store.UpdateRegisteredModelAsync(Required(body.Name, "name"), body.Description, request.HttpContext.RequestAborted));
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapDelete("registered-models/delete", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.DeleteRegisteredModelAsync(Required(body.Name, "name"), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapGet("registered-models/search", async (HttpRequest request, IRegistryStore store, CairnAccess access) =>
            await SearchModelsAsync(store, access, request.HttpContext, FromQuery(request))).FiltersByCairnPermission(CairnResource.RegisteredModel);
        api.MapPost("registered-models/search", async (HttpRequest request, IRegistryStore store, CairnAccess access) =>
            await SearchModelsAsync(store, access, request.HttpContext, await BodyAsync(request))).FiltersByCairnPermission(CairnResource.RegisteredModel);

        api.MapPost("registered-models/set-tag", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.SetRegisteredModelTagAsync(Required(body.Name, "name"), Required(body.Key, "key"),
                body.Value ?? throw new InvalidParameterValueException("Missing value for required parameter 'value'."), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapDelete("registered-models/delete-tag", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.DeleteRegisteredModelTagAsync(Required(body.Name, "name"), Required(body.Key, "key"), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapPost("registered-models/alias", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.SetRegisteredModelAliasAsync(Required(body.Name, "name"), Required(body.Alias, "alias"), Required(body.Version, "version"),
                User(request), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapDelete("registered-models/alias", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.DeleteRegisteredModelAliasAsync(Required(body.Name, "name"), Required(body.Alias, "alias"), User(request), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapGet("registered-models/alias", async (HttpRequest request, IRegistryStore store) =>
            VersionResult(await store.GetModelVersionByAliasAsync(Required(Query(request, "name"), "name"), Required(Query(request, "alias"), "alias"),
                request.HttpContext.RequestAborted))).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelName);

        // The client POSTs; the proto also declares GET.
        api.MapPost("registered-models/get-latest-versions", async (HttpRequest request, IRegistryStore store) =>
            await LatestVersionsAsync(store, await BodyAsync(request), request.HttpContext.RequestAborted)).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelName);
        api.MapGet("registered-models/get-latest-versions", async (HttpRequest request, IRegistryStore store) =>
            await LatestVersionsAsync(store, FromQuery(request), request.HttpContext.RequestAborted)).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelName);

        // ---- model versions ------------------------------------------------------------------
        api.MapPost("model-versions/create", async (HttpRequest request, IRegistryStore store, ITrackingStore tracking) =>
        {
            var body = await BodyAsync(request);
            await ModelVersionSource.ValidateAsync(Required(body.Source, "source"), NullIfEmpty(body.RunId), tracking, request.HttpContext.RequestAborted);
            var version = await store.CreateModelVersionAsync(new CreateModelVersionRequest(
                Required(body.Name, "name"), Required(body.Source, "source"), NullIfEmpty(body.RunId),
                body.Tags?.Select(t => new ModelVersionTag(Required(t.Key, "tags.key"), t.Value ?? "")).ToList(),
                NullIfEmpty(body.RunLink), body.Description, User(request)), request.HttpContext.RequestAborted);
            return VersionResult(version);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapGet("model-versions/get", async (HttpRequest request, IRegistryStore store) =>
            VersionResult(await store.GetModelVersionAsync(Required(Query(request, "name"), "name"), Required(Query(request, "version"), "version"),
                request.HttpContext.RequestAborted))).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelName);

        api.MapPatch("model-versions/update", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            return VersionResult(await store.UpdateModelVersionAsync(Required(body.Name, "name"), Required(body.Version, "version"), body.Description,
                request.HttpContext.RequestAborted));
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapDelete("model-versions/delete", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.DeleteModelVersionAsync(Required(body.Name, "name"), Required(body.Version, "version"), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapGet("model-versions/search", async (HttpRequest request, IRegistryStore store, CairnAccess access) =>
            await SearchVersionsAsync(store, access, request.HttpContext, FromQuery(request))).FiltersByCairnPermission(CairnResource.RegisteredModel);
        api.MapPost("model-versions/search", async (HttpRequest request, IRegistryStore store, CairnAccess access) =>
            await SearchVersionsAsync(store, access, request.HttpContext, await BodyAsync(request))).FiltersByCairnPermission(CairnResource.RegisteredModel);

        api.MapPost("model-versions/set-tag", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.SetModelVersionTagAsync(Required(body.Name, "name"), Required(body.Version, "version"), Required(body.Key, "key"),
                body.Value ?? throw new InvalidParameterValueException("Missing value for required parameter 'value'."), request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapDelete("model-versions/delete-tag", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            await store.DeleteModelVersionTagAsync(Required(body.Name, "name"), Required(body.Version, "version"), Required(body.Key, "key"),
                request.HttpContext.RequestAborted);
            return EmptyResult();
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Manage, from: CairnTarget.ModelName);

        api.MapPost("model-versions/transition-stage", async (HttpRequest request, IRegistryStore store) =>
        {
            var body = await BodyAsync(request);
            return VersionResult(await store.TransitionModelVersionStageAsync(Required(body.Name, "name"), Required(body.Version, "version"),
                Required(body.Stage, "stage"), body.ArchiveExistingVersions ?? false, User(request), request.HttpContext.RequestAborted));
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Edit, from: CairnTarget.ModelName);

        api.MapGet("model-versions/get-download-uri", async (HttpRequest request, IRegistryStore store) =>
        {
            var uri = await store.GetModelVersionDownloadUriAsync(Required(Query(request, "name"), "name"), Required(Query(request, "version"), "version"),
                request.HttpContext.RequestAborted);
            return Results.Json(new DownloadUriResponse { ArtifactUri = uri }, json.DownloadUriResponse);
        }).RequireCairnPermission(CairnResource.RegisteredModel, Permission.Read, from: CairnTarget.ModelName);
    }

    /// <summary>The JSON body, with fields it lacks taken from the query string.</summary>
    internal static async Task<RegistryRequest> BodyAsync(HttpRequest request)
    {
        var body = request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0
            ? await ReadAsync(request, RegistryJson.Wire.RegistryRequest)
            : new RegistryRequest();
        if (request.QueryString.HasValue) Merge(body, FromQuery(request));
        return body;
    }

    internal static RegistryRequest FromQuery(HttpRequest request) => new()
    {
        Name = Query(request, "name"),
        NewName = Query(request, "new_name"),
        Description = Query(request, "description"),
        Version = Query(request, "version"),
        Alias = Query(request, "alias"),
        Key = Query(request, "key"),
        Value = Query(request, "value"),
        Stage = Query(request, "stage"),
        ArchiveExistingVersions = Query(request, "archive_existing_versions") is { Length: > 0 } a ? a.Equals("true", StringComparison.OrdinalIgnoreCase) : null,
        Stages = request.Query["stages"].OfType<string>().ToList() is { Count: > 0 } stages ? stages : null,
        Filter = Query(request, "filter"),
        MaxResults = QueryInt(request, "max_results"),
        OrderBy = request.Query["order_by"].OfType<string>().ToList() is { Count: > 0 } order ? order : null,
        PageToken = Query(request, "page_token"),
    };

    private static void Merge(RegistryRequest body, RegistryRequest query)
    {
        body.Name ??= query.Name;
        body.NewName ??= query.NewName;
        body.Version ??= query.Version;
        body.Alias ??= query.Alias;
        body.Key ??= query.Key;
        body.Stage ??= query.Stage;
        body.Stages ??= query.Stages;
    }

    /// <remarks>With access control on, the authenticated user; X-Cairn-User only counts when nobody is authenticated (access control off).</remarks>
    internal static string? User(HttpRequest request) =>
        request.HttpContext.User.UserName() ?? NullIfEmpty(request.Headers[UserHeader].ToString());

    /// <summary>One page of registered models, without those the caller may not read (the page may come out short).</summary>
    private static async Task<IResult> SearchModelsAsync(IRegistryStore store, CairnAccess access, HttpContext context, RegistryRequest body)
    {
        var cancellationToken = context.RequestAborted;
        var canRead = await access.RegisteredModelReadFilterAsync(context.User, cancellationToken);
        var page = await store.SearchRegisteredModelsAsync(new RegisteredModelSearch(
            NullIfEmpty(body.Filter), MaxResults(body.MaxResults, RegistryLimits.SearchRegisteredModelsDefault), body.OrderBy, NullIfEmpty(body.PageToken)), cancellationToken);
        return Results.Json(new RegisteredModelsPage
        {
            RegisteredModels = page.Items.Where(m => canRead(m.Name)).Select(m => m.ToWire()).ToList() is { Count: > 0 } models ? models : null,
            NextPageToken = page.NextPageToken,
        }, RegistryJson.Wire.RegisteredModelsPage);
    }

    /// <summary>One page of model versions, without those of models the caller may not read (the page may come out short).</summary>
    private static async Task<IResult> SearchVersionsAsync(IRegistryStore store, CairnAccess access, HttpContext context, RegistryRequest body)
    {
        var cancellationToken = context.RequestAborted;
        var canRead = await access.RegisteredModelReadFilterAsync(context.User, cancellationToken);
        var page = await store.SearchModelVersionsAsync(new ModelVersionSearch(
            NullIfEmpty(body.Filter), MaxResults(body.MaxResults, RegistryLimits.SearchModelVersionsDefault), body.OrderBy, NullIfEmpty(body.PageToken)), cancellationToken);
        return Results.Json(new ModelVersionsPage
        {
            // MLflow leaves aliases out of search results.
            ModelVersions = page.Items.Where(v => canRead(v.Name)).Select(v => v.ToWire(withAliases: false)).ToList() is { Count: > 0 } versions ? versions : null,
            NextPageToken = page.NextPageToken,
        }, RegistryJson.Wire.ModelVersionsPage);
    }

    private static async Task<IResult> LatestVersionsAsync(IRegistryStore store, RegistryRequest body, CancellationToken cancellationToken)
    {
        var versions = await store.GetLatestVersionsAsync(Required(body.Name, "name"), body.Stages, cancellationToken);
        return Results.Json(new ModelVersionsPage { ModelVersions = versions.Count == 0 ? null : versions.Select(v => v.ToWire(withAliases: false)).ToList() },
            RegistryJson.Wire.ModelVersionsPage);
    }

    internal static IResult ModelResult(RegisteredModel model) =>
        Results.Json(new RegisteredModelResponse { RegisteredModel = model.ToWire() }, RegistryJson.Wire.RegisteredModelResponse);

    internal static IResult VersionResult(ModelVersion version) =>
        Results.Json(new ModelVersionResponse { ModelVersion = version.ToWire() }, RegistryJson.Wire.ModelVersionResponse);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static IResult EmptyResult() => Results.Json(new Empty(), RegistryJson.Wire.Empty);
}
