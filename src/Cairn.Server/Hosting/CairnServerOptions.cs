namespace Cairn.Server.Hosting;

/// <summary>Everything <c>cairn server</c> is started with. CLI flags override CAIRN_* configuration.</summary>
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

    /// <summary>Largest artifact upload accepted; null for no limit (uploads are streamed to the store).</summary>
    public long? MaxArtifactBytes { get; set; }

    /// <summary>"json" writes one JSON object per log line; anything else the console format.</summary>
    public string LogFormat { get; set; } = "console";

    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; set; } = Microsoft.Extensions.Logging.LogLevel.Information;
}
