using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Cairn.Contracts;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>
/// The tracking store over HTTP: MLflow 2.x's REST API, spoken to a Cairn or an MLflow server.
/// Errors come back as the exceptions the in-process stores throw (an <c>error_code</c> of
/// RESOURCE_DOES_NOT_EXIST becomes <see cref="ResourceDoesNotExistException"/>, and so on), so code
/// behaves the same against a folder and against a server. Transient failures are retried with backoff.
/// Thread-safe; one instance pools its connections and should be shared.
/// </summary>
public sealed class HttpTrackingStore : ITrackingStore
{
    private const string Api = MlflowHttpTransport.MlflowApi;

    private readonly MlflowHttpTransport _transport;
    private readonly bool _ownsTransport;
    private readonly TimeProvider _timeProvider;

    /// <summary>Connects to the server at <paramref name="trackingUri"/> (http:// or https://, optionally with a path prefix).</summary>
    public HttpTrackingStore(string trackingUri, HttpTrackingStoreOptions? options = null)
        : this(new MlflowHttpTransport(trackingUri, options), ownsTransport: true, TimeProvider.System)
    {
    }

    /// <summary>
    /// Connects to the server at <paramref name="trackingUri"/> through <paramref name="httpClient"/> (from IHttpClientFactory,
    /// with a proxy or telemetry handler...). The caller owns <paramref name="httpClient"/>: disposing the store leaves it open.
    /// </summary>
    public HttpTrackingStore(string trackingUri, HttpClient httpClient, HttpTrackingStoreOptions? options = null)
        : this(new MlflowHttpTransport(trackingUri, options, httpClient ?? throw new ArgumentNullException(nameof(httpClient))), ownsTransport: true, TimeProvider.System)
    {
    }

    /// <summary>A store over a transport shared with the registry (see <c>Cairn.Storage.CairnStores</c> in Cairn.Core).</summary>
    internal HttpTrackingStore(MlflowHttpTransport transport, bool ownsTransport, TimeProvider timeProvider)
    {
        _transport = transport;
        _ownsTransport = ownsTransport;
        _timeProvider = timeProvider;
    }

    /// <summary>The server's base address, always ending with '/'.</summary>
    public Uri BaseAddress => _transport.BaseAddress;

    /// <summary>The transport this store sends with.</summary>
    internal MlflowHttpTransport Transport => _transport;

    // ---- Experiments ----

    /// <inheritdoc />
    public async Task<string> CreateExperimentAsync(string name, string? artifactLocation = null, IReadOnlyList<ExperimentTag>? tags = null, CancellationToken cancellationToken = default)
    {
        var body = new CreateExperiment
        {
            Name = name,
            ArtifactLocation = artifactLocation,
            Tags = tags?.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        };
        var response = await PostAsync("experiments/create", body, Json.CreateExperiment, Json.CreateExperimentResponse, idempotent: false, cancellationToken).ConfigureAwait(false);
        return response.ExperimentId;
    }

    /// <inheritdoc />
    public async Task<Experiment> GetExperimentAsync(string experimentId, CancellationToken cancellationToken = default)
    {
        var response = await GetAsync($"experiments/get?experiment_id={Escape(experimentId)}", Json.ExperimentResponse, cancellationToken).ConfigureAwait(false);
        return response.Experiment.ToDomain();
    }

    /// <inheritdoc />
    public async Task<Experiment?> FindExperimentByNameAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await GetAsync($"experiments/get-by-name?experiment_name={Escape(name)}", Json.ExperimentResponse, cancellationToken).ConfigureAwait(false);
            return response.Experiment.ToDomain();
        }
        catch (ResourceDoesNotExistException)
        {
            // Find* returns null where Get* throws (ITrackingStore's convention); the server only has get-by-name.
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<Page<Experiment>> SearchExperimentsAsync(ExperimentSearch search, CancellationToken cancellationToken = default)
    {
        var body = new SearchExperiments
        {
            MaxResults = search.MaxResults,
            PageToken = search.PageToken,
            Filter = search.Filter,
            OrderBy = search.OrderBy?.ToList(),
            ViewType = JsonSerializer.SerializeToElement(search.ViewType.ToString(), Json.String),
        };
        var page = await PostAsync("experiments/search", body, Json.SearchExperiments, Json.ExperimentsPage, idempotent: true, cancellationToken).ConfigureAwait(false);
        return new Page<Experiment>((page.Experiments ?? []).Select(e => e.ToDomain()).ToList(), NullIfEmpty(page.NextPageToken));
    }

    /// <inheritdoc />
    public Task RenameExperimentAsync(string experimentId, string newName, CancellationToken cancellationToken = default) =>
        PostAsync("experiments/update", new UpdateExperiment { ExperimentId = experimentId, NewName = newName }, Json.UpdateExperiment, Json.Empty, idempotent: true, cancellationToken);

    /// <inheritdoc />
    public Task DeleteExperimentAsync(string experimentId, CancellationToken cancellationToken = default) =>
        PostAsync("experiments/delete", new ExperimentIdRequest { ExperimentId = experimentId }, Json.ExperimentIdRequest, Json.Empty, idempotent: false, cancellationToken);

    /// <inheritdoc />
    public Task RestoreExperimentAsync(string experimentId, CancellationToken cancellationToken = default) =>
        PostAsync("experiments/restore", new ExperimentIdRequest { ExperimentId = experimentId }, Json.ExperimentIdRequest, Json.Empty, idempotent: false, cancellationToken);

    /// <inheritdoc />
    public Task SetExperimentTagAsync(string experimentId, string key, string value, CancellationToken cancellationToken = default) =>
        PostAsync("experiments/set-experiment-tag", new SetExperimentTag { ExperimentId = experimentId, Key = key, Value = value },
            Json.SetExperimentTag, Json.Empty, idempotent: true, cancellationToken);

    /// <inheritdoc />
    public Task DeleteExperimentTagAsync(string experimentId, string key, CancellationToken cancellationToken = default) =>
        PostAsync("experiments/delete-experiment-tag", new SetExperimentTag { ExperimentId = experimentId, Key = key },
            Json.SetExperimentTag, Json.Empty, idempotent: false, cancellationToken);

    // ---- Runs ----

    /// <inheritdoc />
    public async Task<Run> CreateRunAsync(CreateRunRequest request, CancellationToken cancellationToken = default)
    {
        var body = new CreateRun
        {
            ExperimentId = request.ExperimentId,
            RunName = request.RunName,
            UserId = request.UserId,
            // MLflow's server stores an absent start_time as 0 (proto2 default); send the time as its Python client does.
            StartTime = request.StartTime ?? _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(),
            Tags = request.Tags?.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        };
        var response = await PostAsync("runs/create", body, Json.CreateRun, Json.RunResponse, idempotent: false, cancellationToken).ConfigureAwait(false);
        return response.Run.ToDomain();
    }

    /// <inheritdoc />
    public async Task<Run> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        var response = await GetAsync($"runs/get?run_id={Escape(runId)}", Json.RunResponse, cancellationToken).ConfigureAwait(false);
        return response.Run.ToDomain();
    }

    /// <inheritdoc />
    public async Task<RunInfo> UpdateRunAsync(string runId, RunStatus? status = null, long? endTime = null, string? runName = null, CancellationToken cancellationToken = default)
    {
        var body = new UpdateRun
        {
            RunId = runId,
            RunUuid = runId,
            Status = status is null ? null : JsonSerializer.SerializeToElement(status.Value.ToString(), Json.String),
            EndTime = endTime,
            RunName = runName,
        };
        var response = await PostAsync("runs/update", body, Json.UpdateRun, Json.RunInfoResponse, idempotent: true, cancellationToken).ConfigureAwait(false);
        return response.RunInfo.ToDomain();
    }

    /// <inheritdoc />
    public Task DeleteRunAsync(string runId, CancellationToken cancellationToken = default) =>
        PostAsync("runs/delete", new RunIdRequest { RunId = runId }, Json.RunIdRequest, Json.Empty, idempotent: true, cancellationToken);

    /// <inheritdoc />
    public Task RestoreRunAsync(string runId, CancellationToken cancellationToken = default) =>
        PostAsync("runs/restore", new RunIdRequest { RunId = runId }, Json.RunIdRequest, Json.Empty, idempotent: true, cancellationToken);

    /// <inheritdoc />
    public async Task<Page<Run>> SearchRunsAsync(RunSearch search, CancellationToken cancellationToken = default)
    {
        var body = new SearchRuns
        {
            ExperimentIds = search.ExperimentIds.ToList(),
            Filter = search.Filter,
            RunViewType = JsonSerializer.SerializeToElement(search.ViewType.ToString(), Json.String),
            MaxResults = search.MaxResults,
            OrderBy = search.OrderBy?.ToList(),
            PageToken = search.PageToken,
        };
        var page = await PostAsync("runs/search", body, Json.SearchRuns, Json.RunsPage, idempotent: true, cancellationToken).ConfigureAwait(false);
        return new Page<Run>((page.Runs ?? []).Select(r => r.ToDomain()).ToList(), NullIfEmpty(page.NextPageToken));
    }

    /// <inheritdoc />
    public Task LogBatchAsync(string runId, IReadOnlyList<Metric>? metrics = null, IReadOnlyList<Param>? parameters = null, IReadOnlyList<RunTag>? tags = null, CancellationToken cancellationToken = default)
    {
        // An empty batch is a no-op in-process too; skip the round trip.
        if ((metrics?.Count ?? 0) + (parameters?.Count ?? 0) + (tags?.Count ?? 0) == 0) return Task.CompletedTask;
        var body = new LogBatch
        {
            RunId = runId,
            Metrics = metrics?.Select(m => m.ToWire()).ToList(),
            Params = parameters?.Select(p => new KeyValue { Key = p.Key, Value = p.Value }).ToList(),
            Tags = tags?.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        };
        // Idempotent: repeated metric points are ignored, an equal param is accepted, tags are upserts.
        return PostAsync("runs/log-batch", body, Json.LogBatch, Json.Empty, idempotent: true, cancellationToken);
    }

    /// <inheritdoc />
    public Task DeleteTagAsync(string runId, string key, CancellationToken cancellationToken = default) =>
        PostAsync("runs/delete-tag", new RunKeyValue { RunId = runId, Key = key }, Json.RunKeyValue, Json.Empty, idempotent: false, cancellationToken);

    /// <inheritdoc />
    public Task LogInputsAsync(string runId, IReadOnlyList<DatasetInput> inputs, CancellationToken cancellationToken = default)
    {
        if (inputs.Count == 0) return Task.CompletedTask;
        var body = new LogInputs { RunId = runId, Datasets = inputs.Select(i => i.ToWire()).ToList() };
        return PostAsync("runs/log-inputs", body, Json.LogInputs, Json.Empty, idempotent: true, cancellationToken);
    }

    /// <inheritdoc />
    public Task RecordLoggedModelAsync(string runId, string modelJson, CancellationToken cancellationToken = default) =>
        // Not idempotent: a repeated request would append the model twice.
        PostAsync("runs/log-model", new LogModel { RunId = runId, ModelJson = modelJson }, Json.LogModel, Json.Empty, idempotent: false, cancellationToken);

    /// <inheritdoc />
    public async Task<Page<Metric>> GetMetricHistoryAsync(string runId, string key, int? maxResults = null, string? pageToken = null, CancellationToken cancellationToken = default)
    {
        var query = new StringBuilder($"metrics/get-history?run_id={Escape(runId)}&metric_key={Escape(key)}");
        if (maxResults is not null) query.Append("&max_results=").Append(maxResults.Value);
        if (!string.IsNullOrEmpty(pageToken)) query.Append("&page_token=").Append(Escape(pageToken));
        var page = await GetAsync(query.ToString(), Json.MetricsPage, cancellationToken).ConfigureAwait(false);
        return new Page<Metric>((page.Metrics ?? []).Select(m => m.ToDomain() with { Key = string.IsNullOrEmpty(m.Key) ? key : m.Key }).ToList(),
            NullIfEmpty(page.NextPageToken));
    }

    // ---- Garbage collection: database-only ----

    /// <summary>Not available over HTTP: MLflow's REST API has no purge; <c>cairn gc</c> works on the database.</summary>
    public Task<(IReadOnlyList<DeletedEntity> Runs, IReadOnlyList<DeletedEntity> Experiments)> FindDeletedAsync(long deletedBefore, CancellationToken cancellationToken = default) =>
        throw GcNotImplemented();

    /// <summary>Not available over HTTP; see <see cref="FindDeletedAsync"/>.</summary>
    public Task PurgeRunAsync(string runId, CancellationToken cancellationToken = default) => throw GcNotImplemented();

    /// <summary>Not available over HTTP; see <see cref="FindDeletedAsync"/>.</summary>
    public Task PurgeExperimentAsync(string experimentId, CancellationToken cancellationToken = default) => throw GcNotImplemented();

    private static CairnException GcNotImplemented() =>
        new(ErrorCode.NOT_IMPLEMENTED, "gc runs against the database directly: pass --backend-store-uri");

    /// <summary>Closes the pooled connections, unless the transport is shared or the caller supplied the HttpClient.</summary>
    public void Dispose()
    {
        if (_ownsTransport) _transport.Dispose();
    }

    // ---- Transport ----

    private static MlflowJson Json => MlflowJson.Wire;

    private static string Escape(string value) => Uri.EscapeDataString(value);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private Task<TResponse> PostAsync<TRequest, TResponse>(string path, TRequest body, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType,
        bool idempotent, CancellationToken cancellationToken) =>
        _transport.SendJsonAsync(HttpMethod.Post, Api + path, body, requestType, responseType, idempotent, user: null, cancellationToken);

    private Task<TResponse> GetAsync<TResponse>(string pathAndQuery, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken) =>
        _transport.GetJsonAsync(Api + pathAndQuery, responseType, cancellationToken);

    /// <summary>GET of any path under the base address (the artifact endpoints), with retries and error mapping. Dispose the response.</summary>
    internal Task<HttpResponseMessage> GetRawAsync(string relativePathAndQuery, HttpCompletionOption completion, CancellationToken cancellationToken) =>
        _transport.GetRawAsync(relativePathAndQuery, completion, cancellationToken);

    /// <summary>PUT of a body to any path under the base address (artifact uploads), with retries and error mapping.</summary>
    internal Task PutRawAsync(string relativePath, Func<HttpContent> createContent, CancellationToken cancellationToken) =>
        _transport.PutRawAsync(relativePath, createContent, cancellationToken);

    /// <summary>Reads a JSON body of a successful response.</summary>
    internal static Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        MlflowHttpTransport.ReadAsync(response, type, cancellationToken);
}
