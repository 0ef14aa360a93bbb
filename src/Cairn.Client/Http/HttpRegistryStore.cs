using System.Text;
using System.Text.Json.Serialization.Metadata;
using Cairn.Contracts;
using Cairn.Registry;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>
/// The registry over a Cairn (or MLflow) server's REST API, through the same transport as <see cref="HttpTrackingStore"/>:
/// the same connection pool, credentials, retries and error mapping, so MLflow's error bodies become the exceptions the
/// embedded store throws. Alias and stage changes carry <c>user</c> in the X-Cairn-User header for the server's audit trail.
/// </summary>
public sealed class HttpRegistryStore : IRegistryStore, IDisposable
{
    private const string Api = MlflowHttpTransport.MlflowApi;
    private const string CairnApi = "api/cairn/v1/registry/";

    private readonly MlflowHttpTransport _transport;
    private readonly bool _ownsTransport;
    private readonly RegistryJson _json = RegistryJson.Wire;

    /// <summary>Connects to the server at <paramref name="trackingUri"/> (http:// or https://, optionally with a path prefix).</summary>
    public HttpRegistryStore(string trackingUri, HttpTrackingStoreOptions? options = null)
        : this(new MlflowHttpTransport(trackingUri, options), ownsTransport: true)
    {
    }

    /// <summary>
    /// Connects to the server at <paramref name="baseAddress"/>, through <paramref name="httpClient"/> when given (the caller owns it:
    /// disposing the store leaves it open), else through a connection pool of its own.
    /// </summary>
    public HttpRegistryStore(Uri baseAddress, HttpClient? httpClient = null, HttpTrackingStoreOptions? options = null)
        : this(new MlflowHttpTransport((baseAddress ?? throw new ArgumentNullException(nameof(baseAddress))).ToString(), options, httpClient), ownsTransport: true)
    {
    }

    /// <summary>A store over a transport shared with tracking (see <c>Cairn.Storage.CairnStores</c> in Cairn.Core).</summary>
    internal HttpRegistryStore(MlflowHttpTransport transport, bool ownsTransport)
    {
        _transport = transport;
        _ownsTransport = ownsTransport;
    }

    public async Task<RegisteredModel> CreateRegisteredModelAsync(string name, IReadOnlyList<RegisteredModelTag>? tags = null, string? description = null, CancellationToken cancellationToken = default) =>
        Model(await SendAsync(HttpMethod.Post, "registered-models/create", new RegistryRequest
        {
            Name = name, Description = description, Tags = tags?.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        }, _json.RegisteredModelResponse, idempotent: false, null, cancellationToken).ConfigureAwait(false));

    public async Task<RegisteredModel> GetRegisteredModelAsync(string name, CancellationToken cancellationToken = default) =>
        Model(await GetAsync($"registered-models/get?name={Esc(name)}", _json.RegisteredModelResponse, cancellationToken).ConfigureAwait(false));

    public async Task<RegisteredModel> RenameRegisteredModelAsync(string name, string newName, CancellationToken cancellationToken = default) =>
        Model(await SendAsync(HttpMethod.Post, "registered-models/rename", new RegistryRequest { Name = name, NewName = newName }, _json.RegisteredModelResponse, idempotent: false, null, cancellationToken).ConfigureAwait(false));

    public async Task<RegisteredModel> UpdateRegisteredModelAsync(string name, string? description, CancellationToken cancellationToken = default) =>
        Model(await SendAsync(HttpMethod.Patch, "registered-models/update", new RegistryRequest { Name = name, Description = description }, _json.RegisteredModelResponse, idempotent: true, null, cancellationToken).ConfigureAwait(false));

    public Task DeleteRegisteredModelAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "registered-models/delete", new RegistryRequest { Name = name }, _json.Empty, idempotent: false, null, cancellationToken);

    public async Task<Page<RegisteredModel>> SearchRegisteredModelsAsync(RegisteredModelSearch search, CancellationToken cancellationToken = default)
    {
        var page = await GetAsync("registered-models/search?" + SearchQuery(search.Filter, search.MaxResults, search.OrderBy, search.PageToken), _json.RegisteredModelsPage, cancellationToken).ConfigureAwait(false);
        return new Page<RegisteredModel>((page.RegisteredModels ?? []).Select(m => m.ToDomain()).ToList(), string.IsNullOrEmpty(page.NextPageToken) ? null : page.NextPageToken);
    }

    public Task SetRegisteredModelTagAsync(string name, string key, string value, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "registered-models/set-tag", new RegistryRequest { Name = name, Key = key, Value = value }, _json.Empty, idempotent: true, null, cancellationToken);

    public Task DeleteRegisteredModelTagAsync(string name, string key, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "registered-models/delete-tag", new RegistryRequest { Name = name, Key = key }, _json.Empty, idempotent: true, null, cancellationToken);

    public async Task<ModelVersion> CreateModelVersionAsync(CreateModelVersionRequest request, CancellationToken cancellationToken = default) =>
        Version(await SendAsync(HttpMethod.Post, "model-versions/create", new RegistryRequest
        {
            Name = request.Name, Source = request.Source, RunId = request.RunId, RunLink = request.RunLink, Description = request.Description,
            Tags = request.Tags?.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        }, _json.ModelVersionResponse, idempotent: false, request.UserId, cancellationToken).ConfigureAwait(false));

    public async Task<ModelVersion> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken = default) =>
        Version(await GetAsync($"model-versions/get?name={Esc(name)}&version={Esc(version)}", _json.ModelVersionResponse, cancellationToken).ConfigureAwait(false));

    public async Task<ModelVersion> UpdateModelVersionAsync(string name, string version, string? description, CancellationToken cancellationToken = default) =>
        Version(await SendAsync(HttpMethod.Patch, "model-versions/update", new RegistryRequest { Name = name, Version = version, Description = description }, _json.ModelVersionResponse, idempotent: true, null, cancellationToken).ConfigureAwait(false));

    public Task DeleteModelVersionAsync(string name, string version, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "model-versions/delete", new RegistryRequest { Name = name, Version = version }, _json.Empty, idempotent: false, null, cancellationToken);

    public async Task<Page<ModelVersion>> SearchModelVersionsAsync(ModelVersionSearch search, CancellationToken cancellationToken = default)
    {
        var page = await GetAsync("model-versions/search?" + SearchQuery(search.Filter, search.MaxResults, search.OrderBy, search.PageToken), _json.ModelVersionsPage, cancellationToken).ConfigureAwait(false);
        return new Page<ModelVersion>((page.ModelVersions ?? []).Select(v => v.ToDomain()).ToList(), string.IsNullOrEmpty(page.NextPageToken) ? null : page.NextPageToken);
    }

    public Task SetModelVersionTagAsync(string name, string version, string key, string value, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "model-versions/set-tag", new RegistryRequest { Name = name, Version = version, Key = key, Value = value }, _json.Empty, idempotent: true, null, cancellationToken);

    public Task DeleteModelVersionTagAsync(string name, string version, string key, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "model-versions/delete-tag", new RegistryRequest { Name = name, Version = version, Key = key }, _json.Empty, idempotent: true, null, cancellationToken);

    public async Task<ModelVersion> TransitionModelVersionStageAsync(string name, string version, string stage, bool archiveExistingVersions = false, string? user = null, CancellationToken cancellationToken = default) =>
        Version(await SendAsync(HttpMethod.Post, "model-versions/transition-stage", new RegistryRequest
        {
            Name = name, Version = version, Stage = stage, ArchiveExistingVersions = archiveExistingVersions,
        }, _json.ModelVersionResponse, idempotent: false, user, cancellationToken).ConfigureAwait(false));

    public async Task<IReadOnlyList<ModelVersion>> GetLatestVersionsAsync(string name, IReadOnlyList<string>? stages = null, CancellationToken cancellationToken = default)
    {
        var page = await SendAsync(HttpMethod.Post, "registered-models/get-latest-versions", new RegistryRequest { Name = name, Stages = stages?.ToList() },
            _json.ModelVersionsPage, idempotent: true, null, cancellationToken).ConfigureAwait(false);
        return (page.ModelVersions ?? []).Select(v => v.ToDomain()).ToList();
    }

    public async Task<string> GetModelVersionDownloadUriAsync(string name, string version, CancellationToken cancellationToken = default) =>
        (await GetAsync($"model-versions/get-download-uri?name={Esc(name)}&version={Esc(version)}", _json.DownloadUriResponse, cancellationToken).ConfigureAwait(false)).ArtifactUri ?? "";

    public Task SetRegisteredModelAliasAsync(string name, string alias, string version, string? user = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "registered-models/alias", new RegistryRequest { Name = name, Alias = alias, Version = version }, _json.Empty, idempotent: false, user, cancellationToken);

    public Task DeleteRegisteredModelAliasAsync(string name, string alias, string? user = null, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "registered-models/alias", new RegistryRequest { Name = name, Alias = alias }, _json.Empty, idempotent: true, user, cancellationToken);

    public async Task<ModelVersion> GetModelVersionByAliasAsync(string name, string alias, CancellationToken cancellationToken = default) =>
        Version(await GetAsync($"registered-models/alias?name={Esc(name)}&alias={Esc(alias)}", _json.ModelVersionResponse, cancellationToken).ConfigureAwait(false));

    public async Task<IReadOnlyList<RegistryAuditEntry>> GetAuditTrailAsync(string name, int maxResults = 100, CancellationToken cancellationToken = default) =>
        ((await GetAsync($"{CairnApi}audit?name={Esc(name)}&max_results={maxResults}", _json.RegistryAuditResponse, cancellationToken).ConfigureAwait(false)).Entries ?? [])
            .Select(e => e.ToDomain()).ToList();

    public async Task<ModelVersion> RollbackAliasAsync(string name, string alias, string? user = null, CancellationToken cancellationToken = default) =>
        Version(await SendAsync(HttpMethod.Post, CairnApi + "rollback", new RegistryRequest { Name = name, Alias = alias }, _json.ModelVersionResponse, idempotent: false, user, cancellationToken).ConfigureAwait(false));

    public async Task<ModelVersion> PromoteAsync(string name, string version, string alias, IReadOnlyList<string>? requirements = null, string? user = null, CancellationToken cancellationToken = default) =>
        Version(await SendAsync(HttpMethod.Post, CairnApi + "promote", new RegistryRequest { Name = name, Version = version, Alias = alias, Requirements = requirements?.ToList() },
            _json.ModelVersionResponse, idempotent: false, user, cancellationToken).ConfigureAwait(false));

    /// <summary>A run through runs/get, for views (such as lineage) that need a version's run.</summary>
    public async Task<Run> GetRunAsync(string runId, CancellationToken cancellationToken = default) =>
        (await GetAsync($"runs/get?run_id={Esc(runId)}", _json.RunResponse, cancellationToken).ConfigureAwait(false)).Run.ToDomain();

    private static RegisteredModel Model(RegisteredModelResponse response) =>
        (response.RegisteredModel ?? throw new CairnException(ErrorCode.INTERNAL_ERROR, "The server answered without 'registered_model'.")).ToDomain();

    private static ModelVersion Version(ModelVersionResponse response) =>
        (response.ModelVersion ?? throw new CairnException(ErrorCode.INTERNAL_ERROR, "The server answered without 'model_version'.")).ToDomain();

    private static string Esc(string value) => Uri.EscapeDataString(value);

    private static string SearchQuery(string? filter, int maxResults, IReadOnlyList<string>? orderBy, string? pageToken)
    {
        var query = new StringBuilder($"max_results={maxResults}");
        if (!string.IsNullOrEmpty(filter)) query.Append("&filter=").Append(Esc(filter));
        foreach (var clause in orderBy ?? []) query.Append("&order_by=").Append(Esc(clause));
        if (!string.IsNullOrEmpty(pageToken)) query.Append("&page_token=").Append(Esc(pageToken));
        return query.ToString();
    }

    private Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        _transport.GetJsonAsync(path.StartsWith(CairnApi, StringComparison.Ordinal) ? path : Api + path, type, cancellationToken);

    /// <summary>
    /// Sends a registry request. <paramref name="idempotent"/> says whether repeating it after a lost answer changes nothing
    /// (tag upserts, updates, reads); creates, deletes, renames and moves that write the audit trail are not retried once sent.
    /// </summary>
    private Task<T> SendAsync<T>(HttpMethod method, string path, RegistryRequest body, JsonTypeInfo<T> type, bool idempotent, string? user, CancellationToken cancellationToken) =>
        _transport.SendJsonAsync(method, path.StartsWith(CairnApi, StringComparison.Ordinal) ? path : Api + path, body, _json.RegistryRequest, type, idempotent, user, cancellationToken);

    /// <summary>Closes the connection pool, unless it is shared with tracking or the caller supplied the HttpClient.</summary>
    public void Dispose()
    {
        if (_ownsTransport) _transport.Dispose();
    }
}
