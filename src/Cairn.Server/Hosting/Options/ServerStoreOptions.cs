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

    /// <summary>
    /// Comma list of further artifact roots the server manages besides <see cref="ArtifactsDestination"/> (folders, <c>file:///</c>
    /// or <c>s3://bucket/prefix</c>): artifacts/list and gc work only inside these roots and the destination; experiments located
    /// anywhere else keep their files.
    /// </summary>
    public string? AllowedArtifactRoots { get; set; }
}
