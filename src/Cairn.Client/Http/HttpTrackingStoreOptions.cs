namespace Cairn.Client;

/// <summary>
/// How the client talks to a server (<see cref="HttpTrackingStore"/>, <see cref="HttpRegistryStore"/> and artifact calls):
/// retries, timeouts, credentials and, optionally, the <see cref="System.Net.Http.HttpClient"/> to send with.
/// </summary>
public sealed class HttpTrackingStoreOptions
{
    /// <summary>
    /// Retries after the first attempt for transient failures (connection refused or reset, 429, 502, 503, 504).
    /// Calls that are not idempotent are retried only when the request never reached the server.
    /// </summary>
    public int MaxRetries { get; set; } = 4;

    /// <summary>Delay before the first retry; each further retry doubles it (with jitter), capped by <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait between two attempts, also the cap applied to a server's Retry-After.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time allowed for one attempt.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Sent as <c>Authorization: Bearer ...</c> (MLflow's MLFLOW_TRACKING_TOKEN).</summary>
    public string? Token { get; set; }

    /// <summary>With <see cref="Password"/>, sent as HTTP basic auth (MLflow's MLFLOW_TRACKING_USERNAME/PASSWORD).</summary>
    public string? UserName { get; set; }

    /// <summary>See <see cref="UserName"/>.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Accept any server certificate (MLflow's MLFLOW_TRACKING_INSECURE_TLS), for a test server with a self-signed one.
    /// Applies only to the client's own connection pool, not to a supplied <see cref="HttpClient"/>.
    /// </summary>
    public bool InsecureTls { get; set; }

    /// <summary>
    /// The client to send with, e.g. from IHttpClientFactory or with a proxy or telemetry handler. The caller owns it: the
    /// stores never dispose it. Its <see cref="HttpClient.Timeout"/> still applies on top of <see cref="RequestTimeout"/>.
    /// Null (the default): the stores keep one connection pool of their own per server.
    /// </summary>
    public HttpClient? HttpClient { get; set; }

    /// <summary>
    /// Options with the credentials MLflow's environment variables give: MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME and
    /// MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_INSECURE_TLS. <paramref name="getEnvironmentVariable"/> defaults to the process
    /// environment; a command line passes its own.
    /// </summary>
    public static HttpTrackingStoreOptions FromEnvironment(Func<string, string?>? getEnvironmentVariable = null) =>
        new HttpTrackingStoreOptions().ApplyEnvironment(getEnvironmentVariable ?? Environment.GetEnvironmentVariable);

    /// <summary>
    /// Fills what is not set yet from MLflow's environment variables (see <see cref="FromEnvironment"/>), so settings made in
    /// code win. The one place the client reads them. Returns this instance.
    /// </summary>
    public HttpTrackingStoreOptions ApplyEnvironment(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        Token ??= getEnvironmentVariable("MLFLOW_TRACKING_TOKEN") is { Length: > 0 } token ? token : null;
        UserName ??= getEnvironmentVariable("MLFLOW_TRACKING_USERNAME") is { Length: > 0 } user ? user : null;
        Password ??= getEnvironmentVariable("MLFLOW_TRACKING_PASSWORD");
        if (getEnvironmentVariable("MLFLOW_TRACKING_INSECURE_TLS") is { Length: > 0 } insecure)
        {
            // MLflow's boolean variables: true/false (any case) or 1/0, anything else is an error.
            InsecureTls |= insecure.Trim().ToLowerInvariant() switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                _ => throw new InvalidParameterValueException($"Invalid MLFLOW_TRACKING_INSECURE_TLS '{insecure}': expected true, false, 1 or 0."),
            };
        }
        return this;
    }
}
