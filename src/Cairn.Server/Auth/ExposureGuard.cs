using System.Net;
using Cairn.Server.Hosting;
using Microsoft.Extensions.Configuration;

namespace Cairn.Server.Auth;

/// <summary>
/// The standalone server's rule for where it may listen: a loopback address always; any other address only with access
/// control on (<c>--auth</c>), or when told <c>--insecure</c> (<see cref="CairnListenOptions.Insecure"/>), which is then warned about.
/// </summary>
internal static class ExposureGuard
{
    /// <summary>Throws when the configured host is reachable from other machines without access control; returns whether to warn.</summary>
    public static bool Check(IConfiguration configuration)
    {
        var listen = configuration.GetSection(CairnListenOptions.Section).Get<CairnListenOptions>() ?? new CairnListenOptions();
        var auth = configuration.GetSection(CairnAuthOptions.Section).Get<CairnAuthOptions>() ?? new CairnAuthOptions();
        // A host that is not a host name at all is the options validation's to report, naming the key.
        if (auth.Enabled || IsLoopback(listen.Host) || string.IsNullOrWhiteSpace(listen.Host) || Uri.CheckHostName(listen.Host) == UriHostNameType.Unknown) return false;
        if (listen.Insecure) return true;
        throw new InvalidParameterValueException(
            $"Refusing to listen on '{listen.Host}' without access control: anyone who reaches the port could read, change and delete everything. " +
            "Add --auth (users and passwords; Cairn:Auth:Enabled), listen on 127.0.0.1, or add --insecure (Cairn:Server:Insecure) to accept the risk.");
    }

    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
        (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
