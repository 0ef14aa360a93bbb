using Cairn.Storage;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The rules of the server's options, checked when the host starts (<c>ValidateOnStart</c>). Each failure names the
/// configuration key, the flag or variable that sets it, and the rule.
/// </summary>
internal sealed class CairnOptionsValidation :
    IValidateOptions<ServerStoreOptions>, IValidateOptions<CairnListenOptions>, IValidateOptions<CairnLimitsOptions>, IValidateOptions<CairnLoggingOptions>
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
            errors.Add(Message(CairnLimitsOptions.Section, "MaxArtifactBytes", null, $"it must be a positive number of bytes or unset (was {options.MaxArtifactBytes})"));
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, CairnLoggingOptions options) =>
        options.Format is "console" or "json"
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(Message(CairnLoggingOptions.Section, "Format", "--log-format", $"it must be 'console' or 'json' (was '{options.Format}')"));

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
