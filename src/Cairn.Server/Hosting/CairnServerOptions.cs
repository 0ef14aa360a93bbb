using System.Globalization;

namespace Cairn.Server.Hosting;

/// <summary>
/// Every setting of a standalone server in one object, for code that starts one (tests, <c>cairn quickstart</c>). Each value
/// becomes the configuration key of its options class (<see cref="CairnListenOptions"/>, <see cref="ServerStoreOptions"/>,
/// <see cref="CairnLimitsOptions"/>, <see cref="CairnLoggingOptions"/>, <see cref="CairnHttpOptions"/>) and overrides appsettings.json and the environment.
/// </summary>
public sealed class CairnServerOptions
{
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; set; } = 5000;

    /// <summary>A folder, <c>sqlite:///path.db</c> or <c>postgresql://...</c>. Default: CAIRN_HOME.</summary>
    public string BackendStoreUri { get; set; } = ".cairn";

    /// <summary>Where proxied artifacts are stored: a folder (default CAIRN_HOME/artifacts) or <c>s3://bucket/prefix</c>.</summary>
    public string ArtifactsDestination { get; set; } = Path.Combine(".cairn", "artifacts");

    /// <summary>How to reach S3 when <see cref="ArtifactsDestination"/> is <c>s3://</c>; null for AWS with the SDK's credential chain.</summary>
    public Cairn.Data.Remotes.S3ConnectionOptions? S3 { get; set; }

    /// <summary>Largest JSON request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest artifact upload accepted (default 5 GiB), counted as the body streams in; null for no limit.</summary>
    public long? MaxArtifactBytes { get; set; } = CairnLimitsOptions.DefaultMaxArtifactBytes;

    /// <summary>Comma list of artifact roots managed besides <see cref="ArtifactsDestination"/> (<see cref="ServerStoreOptions.AllowedArtifactRoots"/>).</summary>
    public string? AllowedArtifactRoots { get; set; }

    /// <summary>Comma list of further names the Host header may carry (<see cref="CairnHttpOptions.AllowedHosts"/>); <c>*</c> allows any.</summary>
    public string? AllowedHosts { get; set; }

    /// <summary>Comma list of origins whose pages may call the API (<see cref="CairnHttpOptions.CorsAllowedOrigins"/>).</summary>
    public string? CorsAllowedOrigins { get; set; }

    /// <summary>Whether requests must authenticate and are checked against permissions (<see cref="Cairn.Server.Auth.CairnAuthOptions"/>).</summary>
    public bool Auth { get; set; }

    /// <summary>Allows a non-loopback <see cref="Host"/> without <see cref="Auth"/> (<see cref="CairnListenOptions.Insecure"/>).</summary>
    public bool Insecure { get; set; }

    /// <summary>"json" writes one JSON object per log line; anything else the console format.</summary>
    public string LogFormat { get; set; } = "console";

    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; set; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>These options as configuration keys and values.</summary>
    /// <summary>The monitoring YAML file (<c>--monitoring</c>); null for none.</summary>
    public string? MonitoringFile { get; set; }

    public Dictionary<string, string?> ToSettings() => new()
    {
        [Cairn.Server.Monitoring.MonitoringOptions.Section + ":File"] = MonitoringFile,
        [CairnListenOptions.Section + ":Host"] = Host,
        [CairnListenOptions.Section + ":Port"] = Port.ToString(CultureInfo.InvariantCulture),
        [ServerStoreOptions.Section + ":BackendStoreUri"] = BackendStoreUri,
        [ServerStoreOptions.Section + ":ArtifactsDestination"] = ArtifactsDestination,
        [CairnLimitsOptions.Section + ":MaxRequestBodyBytes"] = MaxRequestBodyBytes.ToString(CultureInfo.InvariantCulture),
        [Cairn.Server.Auth.CairnAuthOptions.Section + ":Enabled"] = Auth ? "true" : "false",
        [CairnListenOptions.Section + ":Insecure"] = Insecure ? "true" : "false",
        // "" binds to null (no limit); a null value would leave the 5 GiB default in place.
        [CairnLimitsOptions.Section + ":MaxArtifactBytes"] = MaxArtifactBytes?.ToString(CultureInfo.InvariantCulture) ?? "",
        [ServerStoreOptions.Section + ":AllowedArtifactRoots"] = AllowedArtifactRoots,
        [CairnHttpOptions.Section + ":AllowedHosts"] = AllowedHosts,
        [CairnHttpOptions.Section + ":CorsAllowedOrigins"] = CorsAllowedOrigins,
        // "console" stays the default for anything but "json", as before the options were validated.
        [CairnLoggingOptions.Section + ":Format"] = LogFormat == "json" ? "json" : "console",
        [CairnLoggingOptions.Section + ":Level"] = LogLevel.ToString(),
    };
}
