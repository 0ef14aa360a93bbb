namespace Cairn.Server.Hosting;

/// <summary>Where the server keeps its data. Section <c>Cairn:Store</c> (environment: <c>Cairn__Store__BackendStoreUri</c>, ...).</summary>
public sealed class ServerStoreOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Cairn:Store";

    /// <summary>A folder, <c>sqlite:///path.db</c> or <c>postgresql://...</c>. Unset: the CAIRN_HOME folder (default <c>.cairn</c>).</summary>
    public string? BackendStoreUri { get; set; }

    /// <summary>Where proxied artifacts are stored: a folder or <c>s3://bucket/prefix</c>. Unset: CAIRN_HOME/artifacts.</summary>
    public string? ArtifactsDestination { get; set; }
}
