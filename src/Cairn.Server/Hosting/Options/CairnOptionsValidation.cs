using Cairn.Storage;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The rules of the server's options, checked when the host starts (<c>ValidateOnStart</c>). Each failure names the
/// configuration key, the flag or variable that sets it, and the rule.
/// </summary>
internal sealed class CairnOptionsValidation :
    IValidateOptions<ServerStoreOptions>, IValidateOptions<CairnListenOptions>, IValidateOptions<CairnLimitsOptions>, IValidateOptions<CairnLoggingOptions>,
    IValidateOptions<CairnHttpOptions>
{
    public ValidateOptionsResult Validate(string? name, ServerStoreOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.BackendStoreUri))
            errors.Add(Message(ServerStoreOptions.Section, "BackendStoreUri", "--backend-store-uri", "it must not be empty"));
        else if (!StoreUri.IsPostgres(options.BackendStoreUri))
        {
            try
            {
                StoreUri.SqlitePath(StoreUri.Backend(options.BackendStoreUri));
            }
            catch (InvalidParameterValueException e)
            {
                errors.Add(Message(ServerStoreOptions.Section, "BackendStoreUri", "--backend-store-uri", e.Message));
            }
        }
        if (string.IsNullOrWhiteSpace(options.ArtifactsDestination))
            errors.Add(Message(ServerStoreOptions.Section, "ArtifactsDestination", "--artifacts-destination", "it must not be empty"));
        foreach (var root in Cairn.Artifacts.ArtifactStores.SplitRoots(options.AllowedArtifactRoots))
        {
            if (Cairn.Artifacts.ArtifactStores.CheckRoot(root) is { } problem)
                errors.Add(Message(ServerStoreOptions.Section, "AllowedArtifactRoots", "--allowed-artifact-roots", problem));
        }
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, CairnListenOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Host) || Uri.CheckHostName(options.Host) == UriHostNameType.Unknown)
            errors.Add(Message(CairnListenOptions.Section, "Host", "--host", $"'{options.Host}' is not a host name or IP address (no scheme, no port)"));
        if (options.Port is < 0 or > 65535)
            errors.Add(Message(CairnListenOptions.Section, "Port", "--port", $"it must be between 0 and 65535 (was {options.Port})"));
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, CairnLimitsOptions options)
    {
        var errors = new List<string>();
        if (options.MaxRequestBodyBytes <= 0)
            errors.Add(Message(CairnLimitsOptions.Section, "MaxRequestBodyBytes", "--max-request-size", $"it must be a positive number of bytes (was {options.MaxRequestBodyBytes})"));
        if (options.MaxArtifactBytes is <= 0)
            errors.Add(Message(CairnLimitsOptions.Section, "MaxArtifactBytes", "--max-artifact-size", $"it must be a positive number of bytes, or empty for no limit (was {options.MaxArtifactBytes})"));
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, CairnLoggingOptions options) =>
        options.Format is "console" or "json"
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(Message(CairnLoggingOptions.Section, "Format", "--log-format", $"it must be 'console' or 'json' (was '{options.Format}')"));

    public ValidateOptionsResult Validate(string? name, CairnHttpOptions options)
    {
        var errors = new List<string>();
        foreach (var host in CairnHttpOptions.Split(options.AllowedHosts))
        {
            var hostName = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
            if (host != "*" && (host.Contains("://", StringComparison.Ordinal) || Uri.CheckHostName(hostName.Trim('[', ']')) == UriHostNameType.Unknown))
                errors.Add(Message(CairnHttpOptions.Section, "AllowedHosts", "--allowed-hosts", $"'{host}' is not a host name, IP address, *.domain or * (no scheme, no port)"));
        }
        foreach (var origin in CairnHttpOptions.Split(options.CorsAllowedOrigins))
        {
            if (origin != "*" && !RequestGuards.IsOrigin(origin))
                errors.Add(Message(CairnHttpOptions.Section, "CorsAllowedOrigins", "--cors-allowed-origins", $"'{origin}' is not an origin like https://host[:port] (scheme and host, no path) or *"));
        }
        return Result(errors);
    }

    /// <summary>"Invalid value for 'Cairn:Server:Port' (--port, Cairn__Server__Port): it must be ...".</summary>
    private static string Message(string section, string key, string? flag, string rule)
    {
        var path = section + ":" + key;
        var variable = path.Replace(":", "__", StringComparison.Ordinal);
        return $"Invalid value for '{path}' ({(flag is null ? "" : flag + ", ")}{variable}): {rule.TrimEnd('.')}.";
    }

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
