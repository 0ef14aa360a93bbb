using Cairn.Access;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Auth;

/// <summary>Registers authorization: the access options (checked at start) and <see cref="CairnAccess"/>.</summary>
internal static class CairnPermissionServices
{
    public static IServiceCollection AddCairnPermissions(this IServiceCollection services)
    {
        // The options are bound (and validated at start) by AddCairnAuth; this adds the rule for the default permission.
        services.AddOptions<CairnAuthOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CairnAuthOptions>, DefaultPermissionValidation>());
        services.TryAddSingleton<CairnAccess>();
        return services;
    }

    /// <summary>An unknown default permission stops the server at start, naming the key and the accepted values.</summary>
    private sealed class DefaultPermissionValidation : IValidateOptions<CairnAuthOptions>
    {
        public ValidateOptionsResult Validate(string? name, CairnAuthOptions options) =>
            Permissions.TryParse(options.DefaultPermission, out _)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail(
                    $"{CairnAuthOptions.Section}:DefaultPermission is '{options.DefaultPermission}': expected one of {string.Join(", ", Permissions.Names)}.");
    }
}
