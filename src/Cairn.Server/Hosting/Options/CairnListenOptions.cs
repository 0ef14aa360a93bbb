namespace Cairn.Server.Hosting;

/// <summary>
/// The address the standalone server listens on. Section <c>Cairn:Server</c>; a host that embeds Cairn with
/// <c>AddCairnServer</c> listens where it chooses and ignores these.
/// </summary>
public sealed class CairnListenOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Cairn:Server";

    /// <summary>A host name or IP address, without scheme or port; <c>0.0.0.0</c> listens on every interface.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; set; } = 5000;

    /// <summary>Listen on a non-loopback address without access control (<c>--insecure</c>); refused otherwise, and warned about when allowed.</summary>
    public bool Insecure { get; set; }
}
