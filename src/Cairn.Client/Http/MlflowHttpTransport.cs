using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Cairn.Contracts;

namespace Cairn.Client;

/// <summary>
/// The one HTTP transport of the client: what <see cref="HttpTrackingStore"/>, <see cref="HttpRegistryStore"/> and the
/// artifact calls share. One <see cref="HttpClient"/> (one connection pool) per server, credentials on every request,
/// one retry policy (only what is safe to repeat, a timeout per attempt, Retry-After honoured, jittered backoff) and one
/// error mapping: MLflow's error bodies become the exceptions the in-process stores throw.
/// Thread-safe. It disposes its <see cref="HttpClient"/> only when it created it.
/// </summary>
internal sealed class MlflowHttpTransport : IDisposable
{
    /// <summary>The prefix of MLflow's REST API, relative to the tracking URI.</summary>
    public const string MlflowApi = "api/2.0/mlflow/";

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly AuthenticationHeaderValue? _authorization;
    private static readonly ProductInfoHeaderValue UserAgent =
        new("cairn", typeof(MlflowHttpTransport).Assembly.GetName().Version?.ToString() ?? "0");

    /// <summary>
    /// A transport to the server at <paramref name="trackingUri"/> (http:// or https://, optionally with a path prefix).
    /// Sends with <paramref name="httpClient"/>, else <see cref="HttpTrackingStoreOptions.HttpClient"/> (their owner disposes
    /// them), else a client of its own.
    /// </summary>
    public MlflowHttpTransport(string trackingUri, HttpTrackingStoreOptions? options = null, HttpClient? httpClient = null)
    {
        BaseAddress = ParseBaseAddress(trackingUri);
        Options = options ?? new HttpTrackingStoreOptions();
        if ((httpClient ?? Options.HttpClient) is { } supplied)
        {
            _http = supplied;
            _ownsHttp = false;
        }
        else
        {
            _http = CreateHttpClient(Options);
            _ownsHttp = true;
        }
        // Set per request rather than on DefaultRequestHeaders: a caller's HttpClient may serve other servers too.
        if (Options.Token is { Length: > 0 } token)
            _authorization = new AuthenticationHeaderValue("Bearer", token);
        else if (Options.UserName is { Length: > 0 } user)
            _authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{Options.Password}")));
    }

    /// <summary>The server's base address, always ending with '/'.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Retries, timeouts and credentials.</summary>
    public HttpTrackingStoreOptions Options { get; }

    /// <summary>Checks that <paramref name="trackingUri"/> is an absolute http(s) URI and returns it with a trailing '/'.</summary>
    public static Uri ParseBaseAddress(string trackingUri)
    {
        ArgumentException.ThrowIfNullOrEmpty(trackingUri);
        if (!Uri.TryCreate(trackingUri.EndsWith('/') ? trackingUri : trackingUri + "/", UriKind.Absolute, out var baseUri) ||
            (baseUri.Scheme != Uri.UriSchemeHttp && baseUri.Scheme != Uri.UriSchemeHttps))
            throw new InvalidParameterValueException($"Invalid tracking URI '{SecretRedaction.StoreUri(trackingUri)}': expected http://host:port or https://host:port.");
        return baseUri;
    }

    private static HttpClient CreateHttpClient(HttpTrackingStoreOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            MaxConnectionsPerServer = 32,
            AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        // MLflow's MLFLOW_TRACKING_INSECURE_TLS: a server with a self-signed certificate, by explicit choice only.
        if (options.InsecureTls)
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        // Timeouts are applied per attempt (see SendAsync) so retries get a fresh budget.
        return new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Sends <paramref name="body"/> as JSON and reads the JSON answer. <paramref name="user"/> goes in X-Cairn-User (the registry's audit trail).</summary>
    public async Task<TResponse> SendJsonAsync<TRequest, TResponse>(HttpMethod method, string relativePath, TRequest body, JsonTypeInfo<TRequest> requestType,
        JsonTypeInfo<TResponse> responseType, bool idempotent, string? user, CancellationToken cancellationToken)
    {
        // Serialized once: each retry needs a fresh HttpRequestMessage but not a fresh body.
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, requestType);
        var uri = new Uri(BaseAddress, relativePath);
        using var response = await SendAsync(() =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            var request = new HttpRequestMessage(method, uri) { Content = content };
            if (!string.IsNullOrEmpty(user)) request.Headers.Add("X-Cairn-User", user);
            return request;
        }, idempotent, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, responseType, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GET of <paramref name="relativePathAndQuery"/>, read as JSON.</summary>
    public async Task<TResponse> GetJsonAsync<TResponse>(string relativePathAndQuery, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        using var response = await GetRawAsync(relativePathAndQuery, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, responseType, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>GET of any path under the base address (the artifact endpoints), with retries and error mapping. Dispose the response.</summary>
    public Task<HttpResponseMessage> GetRawAsync(string relativePathAndQuery, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseAddress, relativePathAndQuery);
        return SendAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), idempotent: true, completion, cancellationToken);
    }

    /// <summary>PUT of a body to any path under the base address (artifact uploads), with retries and error mapping.</summary>
    public async Task PutRawAsync(string relativePath, Func<HttpContent> createContent, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseAddress, relativePath);
        // An upload replaces the file whole, so repeating it is safe: each attempt reopens the content.
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Put, uri) { Content = createContent() }, idempotent: true,
            HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a JSON body of a successful response.</summary>
    public static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken)
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
            var canRetry = attempt < Options.MaxRetries;
            using var request = createRequest();
            request.Headers.UserAgent.Add(UserAgent);
            if (_authorization is not null) request.Headers.Authorization = _authorization;
            HttpResponseMessage response;
            using (var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptTimeout.CancelAfter(Options.RequestTimeout);
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
                        $"Cannot reach the tracking server at {SecretRedaction.StoreUri(BaseAddress.ToString())}: {e.Message}", e);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    if (idempotent && canRetry)
                    {
                        await DelayAsync(attempt, null, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                        $"The tracking server at {SecretRedaction.StoreUri(BaseAddress.ToString())} did not answer {request.Method} {request.RequestUri?.AbsolutePath} within {Options.RequestTimeout.TotalSeconds:0.#} s.", e);
                }
            }

            if (response.IsSuccessStatusCode) return response;
            var status = (int)response.StatusCode;
            if (idempotent && canRetry && status is 429 or 502 or 503 or 504)
            {
                var retryAfter = RetryAfter(response);
                response.Dispose();
                await DelayAsync(attempt, retryAfter, cancellationToken).ConfigureAwait(false);
                continue;
            }
            using (response)
                throw await ReadErrorAsync(response, request, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Retry-After as seconds or as a date (RFC 9110 allows both).</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };

    private Task DelayAsync(int attempt, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        var backoff = Options.RetryBaseDelay * Math.Pow(2, attempt) * (0.75 + Random.Shared.NextDouble() * 0.5);
        var delay = retryAfter is { } asked && asked > backoff ? asked : backoff;
        return Task.Delay(delay > Options.MaxRetryDelay ? Options.MaxRetryDelay : delay, cancellationToken);
    }

    private static async Task<CairnException> ReadErrorAsync(HttpResponseMessage response, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        ErrorResponse? error = null;
        try
        {
            if (text.TrimStart().StartsWith('{')) error = JsonSerializer.Deserialize(text, MlflowJson.Wire.ErrorResponse);
        }
        catch (JsonException)
        {
            // Not MLflow's error body (a proxy's page, say): described below from the status.
        }
        if (error is { CairnReason: PromotionRefusedException.Reason })
            return new PromotionRefusedException(error.Message, error.CairnRule ?? "");
        if (error is not null) return MapError(status, error.ErrorCode, error.Message);
        var snippet = text.Length > 200 ? text[..200] + "..." : text;
        return new CairnException(CodeForStatus(status),
            $"The server answered {status} {response.ReasonPhrase} to {request.Method} {request.RequestUri?.AbsolutePath}" +
            (snippet.Length > 0 ? $": {snippet.ReplaceLineEndings(" ")}" : "."));
    }

    /// <summary>Turns an MLflow error body back into the exception the in-process store throws for it.</summary>
    public static CairnException MapError(int status, string? errorCode, string message) => errorCode switch
    {
        nameof(ErrorCode.RESOURCE_DOES_NOT_EXIST) => new ResourceDoesNotExistException(message),
        nameof(ErrorCode.RESOURCE_ALREADY_EXISTS) => new ResourceAlreadyExistsException(message),
        nameof(ErrorCode.INVALID_PARAMETER_VALUE) => new InvalidParameterValueException(message),
        nameof(ErrorCode.INVALID_STATE) => new InvalidStateException(message),
        _ when Enum.TryParse<ErrorCode>(errorCode, out var known) && known.ToString() == errorCode => new CairnException(known, message),
        // A code Cairn does not know (MLflow has more, e.g. CUSTOMER_UNAUTHORIZED): keep its name in the message.
        _ => new CairnException(CodeForStatus(status), string.IsNullOrEmpty(errorCode) ? message : $"{errorCode}: {message}"),
    };

    /// <summary>
    /// The code of an answer without MLflow's error body, by status, as in mlflow/exceptions.py's table read backwards:
    /// a bare 404 is a path the server does not serve (a resource it lacks comes with RESOURCE_DOES_NOT_EXIST in the body).
    /// </summary>
    public static ErrorCode CodeForStatus(int status) => status switch
    {
        400 => ErrorCode.BAD_REQUEST,
        401 => ErrorCode.UNAUTHENTICATED,
        403 => ErrorCode.PERMISSION_DENIED,
        404 => ErrorCode.ENDPOINT_NOT_FOUND,
        413 or 429 => ErrorCode.REQUEST_LIMIT_EXCEEDED,
        501 => ErrorCode.NOT_IMPLEMENTED,
        502 or 503 or 504 => ErrorCode.TEMPORARILY_UNAVAILABLE,
        _ => ErrorCode.INTERNAL_ERROR,
    };

    /// <summary>Closes the connection pool, unless the caller supplied the <see cref="HttpClient"/>.</summary>
    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }
}
