namespace Cairn.Client;

/// <summary>How <see cref="HttpTrackingStore"/> talks to a server: retries, timeouts and credentials.</summary>
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
}
