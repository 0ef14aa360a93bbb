namespace Cairn.Server.Hosting;

/// <summary>Bounds on what one request may send. Section <c>Cairn:Limits</c>.</summary>
public sealed class CairnLimitsOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Cairn:Limits";

    /// <summary>Largest JSON request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>The default of <see cref="MaxArtifactBytes"/>: 5 GiB.</summary>
    public const long DefaultMaxArtifactBytes = 5L << 30;

    /// <summary>Largest artifact upload accepted, counted as the body streams in (not only from Content-Length); larger ones get 413. Null for no limit.</summary>
    public long? MaxArtifactBytes { get; set; } = DefaultMaxArtifactBytes;
}
