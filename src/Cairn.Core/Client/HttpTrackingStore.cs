using System.Net;
using System.Net.Http.Headers;
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
    private const string Api = "api/2.0/mlflow/";

    private readonly HttpClient _http;
    private readonly HttpTrackingStoreOptions _options;

    /// <summary>Connects to the server at <paramref name="trackingUri"/> (http:// or https://, optionally with a path prefix).</summary>
    public HttpTrackingStore(string trackingUri, HttpTrackingStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(trackingUri);
        if (!Uri.TryCreate(trackingUri.EndsWith('/') ? trackingUri : trackingUri + "/", UriKind.Absolute, out var baseUri) ||
            (baseUri.Scheme != Uri.UriSchemeHttp && baseUri.Scheme != Uri.UriSchemeHttps))
            throw new InvalidParameterValueException($"Invalid tracking URI '{trackingUri}': expected http://host:port or https://host:port.");
        BaseAddress = baseUri;
        _options = options ?? new HttpTrackingStoreOptions();
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            MaxConnectionsPerServer = 32,
            AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        // Timeouts are applied per attempt (see SendAsync) so retries get a fresh budget.
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("cairn", typeof(HttpTrackingStore).Assembly.GetName().Version?.ToString() ?? "0"));
        if (_options.Token is { Length: > 0 } token)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        else if (_options.UserName is { Length: > 0 } user)
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{_options.Password}")));
    }

    /// <summary>The server's base address, always ending with '/'.</summary>
    public Uri BaseAddress { get; }

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
            StartTime = request.StartTime ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
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

    /// <summary>Closes the pooled connections.</summary>
    public void Dispose() => _http.Dispose();

    // ---- Transport ----

    private static MlflowJson Json => MlflowJson.Wire;

    private static string Escape(string value) => Uri.EscapeDataString(value);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private async Task<TResponse> PostAsync<TRequest, TResponse>(string path, TRequest body, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType,
        bool idempotent, CancellationToken cancellationToken)
    {
        // Serialized once: each retry needs a fresh HttpRequestMessage but not a fresh body.
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, requestType);
        var uri = new Uri(BaseAddress, Api + path);
        using var response = await SendAsync(() =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        }, idempotent, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, responseType, cancellationToken).ConfigureAwait(false);
    }

    private async Task<TResponse> GetAsync<TResponse>(string pathAndQuery, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseAddress, Api + pathAndQuery);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), idempotent: true,
            HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, responseType, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GET of any path under the base address (the artifact endpoints), with retries and error mapping. Dispose the response.</summary>
    internal Task<HttpResponseMessage> GetRawAsync(string relativePathAndQuery, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseAddress, relativePathAndQuery);
        return SendAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), idempotent: true, completion, cancellationToken);
    }

    /// <summary>
    /// A registry client for the same server with the same credentials. It does not own <paramref name="httpClient"/>'s
    /// lifetime: the caller disposes both.
    /// </summary>
    internal HttpRegistryStore CreateRegistryStore(out HttpClient httpClient)
    {
        httpClient = new HttpClient { BaseAddress = BaseAddress, Timeout = _options.RequestTimeout };
        httpClient.DefaultRequestHeaders.Authorization = _http.DefaultRequestHeaders.Authorization;
        httpClient.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("cairn", typeof(HttpTrackingStore).Assembly.GetName().Version?.ToString() ?? "0"));
        return new HttpRegistryStore(BaseAddress, httpClient);
    }

    /// <summary>PUT of a body to any path under the base address (artifact uploads), with retries and error mapping.</summary>
    internal async Task PutRawAsync(string relativePath, Func<HttpContent> createContent, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseAddress, relativePath);
        // An upload replaces the file whole, so repeating it is safe: each attempt reopens the content.
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, uri) { Content = createContent() }, idempotent: true,
            HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a JSON body of a successful response.</summary>
    internal static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(stream, type, cancellationToken).ConfigureAwait(false)
                ?? throw new JsonException("the body is JSON null");
        }
        catch (JsonException e)
        {
            throw new CairnException(ErrorCode.INTERNAL_ERROR,
                $"The server answered {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath} with a body that is not the expected MLflow message: {e.Message}", e);
        }
    }

    /// <summary>
    /// Sends a request built by <paramref name="createRequest"/>, retrying transient failures, and returns a successful
    /// response or throws the mapped <see cref="CairnException"/>.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> createRequest, bool idempotent, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var canRetry = attempt < _options.MaxRetries;
            using var request = createRequest();
            HttpResponseMessage response;
            using (var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptTimeout.CancelAfter(_options.RequestTimeout);
                try
                {
                    response = await _http.SendAsync(request, completion, attemptTimeout.Token).ConfigureAwait(false);
                }
                catch (HttpRequestException e) when (!cancellationToken.IsCancellationRequested)
                {
                    // A refused or failed connect never reached the server, so any call may be retried;
                    // a connection lost mid-request may have been applied, so only idempotent ones are.
                    var neverSent = e.HttpRequestError is HttpRequestError.ConnectionError;
                    var transient = neverSent || (idempotent && e.HttpRequestError is HttpRequestError.ResponseEnded or HttpRequestError.Unknown);
                    if (transient && canRetry)
                    {
                        await DelayAsync(attempt, null, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                        $"Cannot reach the tracking server at {BaseAddress}: {e.Message}", e);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    if (idempotent && canRetry)
                    {
                        await DelayAsync(attempt, null, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                        $"The tracking server at {BaseAddress} did not answer {request.Method} {request.RequestUri?.AbsolutePath} within {_options.RequestTimeout.TotalSeconds:0.#} s.", e);
                }
            }

            if (response.IsSuccessStatusCode) return response;
            var status = (int)response.StatusCode;
            if (idempotent && canRetry && status is 429 or 502 or 503 or 504)
            {
                var retryAfter = response.Headers.RetryAfter?.Delta;
                response.Dispose();
                await DelayAsync(attempt, retryAfter, cancellationToken).ConfigureAwait(false);
                continue;
            }
            using (response)
                throw await ReadErrorAsync(response, request, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task DelayAsync(int attempt, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        var backoff = _options.RetryBaseDelay * Math.Pow(2, attempt) * (0.75 + Random.Shared.NextDouble() * 0.5);
        var delay = retryAfter is { } asked && asked > backoff ? asked : backoff;
        return Task.Delay(delay > _options.MaxRetryDelay ? _options.MaxRetryDelay : delay, cancellationToken);
    }

    private static async Task<CairnException> ReadErrorAsync(HttpResponseMessage response, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        ErrorResponse? error = null;
        try
        {
            if (text.TrimStart().StartsWith('{')) error = JsonSerializer.Deserialize(text, Json.ErrorResponse);
        }
        catch (JsonException)
        {
            // Not MLflow's error body (a proxy's page, say): described below from the status.
        }
        if (error is not null) return MapError(status, error.ErrorCode, error.Message);
        var snippet = text.Length > 200 ? text[..200] + "..." : text;
        return new CairnException(CodeForStatus(status),
            $"The server answered {status} {response.ReasonPhrase} to {request.Method} {request.RequestUri?.AbsolutePath}" +
            (snippet.Length > 0 ? $": {snippet.ReplaceLineEndings(" ")}" : "."));
    }

    /// <summary>Turns an MLflow error body back into the exception the in-process store throws for it.</summary>
    internal static CairnException MapError(int status, string? errorCode, string message) => errorCode switch
    {
        nameof(ErrorCode.RESOURCE_DOES_NOT_EXIST) => new ResourceDoesNotExistException(message),
        nameof(ErrorCode.RESOURCE_ALREADY_EXISTS) => new ResourceAlreadyExistsException(message),
        nameof(ErrorCode.INVALID_PARAMETER_VALUE) => new InvalidParameterValueException(message),
        nameof(ErrorCode.INVALID_STATE) => new InvalidStateException(message),
        _ when Enum.TryParse<ErrorCode>(errorCode, out var known) && known.ToString() == errorCode => new CairnException(known, message),
        // A code Cairn does not know (MLflow has more, e.g. UNAUTHENTICATED): keep its name in the message.
        _ => new CairnException(CodeForStatus(status), string.IsNullOrEmpty(errorCode) ? message : $"{errorCode}: {message}"),
    };

    private static ErrorCode CodeForStatus(int status) => status switch
    {
        400 => ErrorCode.BAD_REQUEST,
        401 or 403 => ErrorCode.PERMISSION_DENIED,
        404 => ErrorCode.ENDPOINT_NOT_FOUND,
        413 or 429 => ErrorCode.REQUEST_LIMIT_EXCEEDED,
        501 => ErrorCode.NOT_IMPLEMENTED,
        502 or 503 or 504 => ErrorCode.TEMPORARILY_UNAVAILABLE,
        _ => ErrorCode.INTERNAL_ERROR,
    };
}
