namespace Cairn.Server.Hosting;

/// <summary>
/// Which browsers and names the server answers. Section <c>Cairn:Http</c>. A tracking server on 127.0.0.1 is still
/// reachable from any web page its user opens, so requests naming another host (DNS rebinding) and requests from
/// another origin are refused unless listed here.
/// </summary>
public sealed class CairnHttpOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Cairn:Http";

    /// <summary>
    /// Comma list of the names the Host header may carry, besides localhost, 127.0.0.1, [::1] and the --host value (on a
    /// wildcard address: the machine's name and addresses); <c>*.example.com</c> matches subdomains, <c>*</c> any host.
    /// </summary>
    public string? AllowedHosts { get; set; }

    /// <summary>Comma list of origins (<c>https://ui.example.com</c>) whose pages may call the API; <c>*</c> allows any.</summary>
    public string? CorsAllowedOrigins { get; set; }

    /// <summary>The items of a comma list, trimmed, without empty ones.</summary>
    internal static string[] Split(string? list) =>
        string.IsNullOrWhiteSpace(list) ? [] : list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
