namespace Cairn.Client;

/// <summary>Optional settings of <see cref="CairnClient"/>; the defaults suit both a folder and a server.</summary>
public sealed class CairnClientOptions
{
    /// <summary>
    /// Where new experiments keep their artifacts when the client opens a database itself (folder, sqlite:///, postgresql://).
    /// Default: the <c>artifacts</c> folder next to the database.
    /// </summary>
    public string? DefaultArtifactRoot { get; set; }

    /// <summary>
    /// The folder a server proxies <c>mlflow-artifacts:</c> URIs to (its --artifacts-destination), used to read such artifacts
    /// when the database is opened directly. Default: the same <c>artifacts</c> folder as <see cref="DefaultArtifactRoot"/>.
    /// </summary>
    public string? ArtifactsDestination { get; set; }

    /// <summary>
    /// How model sources and artifacts at <c>s3://</c> locations are read (endpoint, region, keys). Default: MLflow's variables
    /// (MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...; see <see cref="Cairn.Data.Remotes.S3ConnectionOptions.FromEnvironment"/>).
    /// </summary>
    public Cairn.Data.Remotes.S3ConnectionOptions? S3 { get; set; }

    /// <summary>Settings of the HTTP transport, for http(s):// tracking URIs.</summary>
    public HttpTrackingStoreOptions Http { get; set; } = new();

    /// <summary>How often a run's background logger writes its queue; the same setting as <see cref="RunLoggerOptions.FlushInterval"/>.</summary>
    public TimeSpan FlushInterval
    {
        get => RunLogger.FlushInterval;
        set => RunLogger.FlushInterval = value;
    }

    /// <summary>The clock of the timestamps the client and its stores write (run start times, creation and update times).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Options whose <see cref="Http"/> credentials come from MLflow's environment variables (MLFLOW_TRACKING_TOKEN,
    /// MLFLOW_TRACKING_USERNAME/PASSWORD, MLFLOW_TRACKING_INSECURE_TLS; see <see cref="HttpTrackingStoreOptions.FromEnvironment"/>),
    /// and <see cref="S3"/> from MLFLOW_S3_ENDPOINT_URL and the AWS variables.
    /// <paramref name="getEnvironmentVariable"/> defaults to the process environment; a command line passes its own.
    /// </summary>
    public static CairnClientOptions FromEnvironment(Func<string, string?>? getEnvironmentVariable = null) =>
        new()
        {
            Http = HttpTrackingStoreOptions.FromEnvironment(getEnvironmentVariable),
            S3 = Cairn.Data.Remotes.S3ConnectionOptions.FromEnvironment(getEnvironmentVariable ?? Environment.GetEnvironmentVariable),
        };

    /// <summary>Queue bound, full-queue behaviour and logging of each run's background logger.</summary>
    public RunLoggerOptions RunLogger { get; set; } = new();
}
