namespace Cairn.Server.Hosting;

/// <summary>Bounds on what one request may send. Section <c>Cairn:Limits</c>.</summary>
public sealed class CairnLimitsOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Cairn:Limits";

    /// <summary>Largest JSON request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Largest artifact upload accepted; null for no limit (uploads are streamed to the store).</summary>
    public long? MaxArtifactBytes { get; set; }
}
