using Cairn.Auth;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Auth;

/// <summary>Registers and turns on authentication when <see cref="CairnAuthOptions.Enabled"/>.</summary>
internal static class CairnAuthExtensions
{
    /// <summary>The routes open to anonymous callers with access control on (probes and the version).</summary>
    private static readonly HashSet<string> PublicPaths = new(StringComparer.OrdinalIgnoreCase) { "/health", "/health/live", "/health/ready", "/version" };

    /// <summary>
    /// Binds <see cref="CairnAuthOptions"/> (<c>CAIRN_ADMIN_USERNAME</c> overrides <c>Cairn:Auth:AdminUsername</c>) and, with
    /// access control on, the <see cref="CairnClaims.Scheme"/> authentication scheme, the credential cache, the failed-login
    /// limiter and the first-admin bootstrap. Call after the stores are registered.
    /// </summary>
    public static IServiceCollection AddCairnAuth(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CairnAuthOptions>().Bind(configuration.GetSection(CairnAuthOptions.Section)).PostConfigure(o =>
        {
            if (configuration["CAIRN_ADMIN_USERNAME"] is { Length: > 0 } admin) o.AdminUsername = admin;
        }).Validate(o => IsValidUsername(o.AdminUsername),
            $"{CairnAuthOptions.Section}:AdminUsername (CAIRN_ADMIN_USERNAME): not a valid user name (1 to {UserValidator.MaxUsernameLength} characters, no ':' or control characters, no spaces at either end).")
        .ValidateOnStart();
        services.AddSingleton<IUserStore>(sp => sp.GetRequiredService<ServerStores>().Users);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<CredentialCache>();
        services.AddSingleton<CairnPasswords>();
        // Also with access control off: the users and tokens endpoints exist and say it is off.
        if (!IsEnabled(configuration)) return services;

        services.AddSingleton<LoginRateLimiter>();
        services.AddSingleton<CairnAuthenticator>();
        services.AddHostedService<AdminBootstrap>();
        services.AddAuthentication(CairnClaims.Scheme).AddScheme<AuthenticationSchemeOptions, CairnAuthenticationHandler>(CairnClaims.Scheme, null);
        return services;
    }

    private static bool IsEnabled(IConfiguration configuration) =>
        configuration.GetSection(CairnAuthOptions.Section).Get<CairnAuthOptions>()?.Enabled == true;

    private static bool IsValidUsername(string name)
    {
        try
        {
            UserValidator.ValidateUsername(name);
            return true;
        }
        catch (InvalidParameterValueException)
        {
            return false;
        }
    }

    /// <summary>
    /// With access control on: authenticates every request and challenges (401) any anonymous one outside the public paths.
    /// Off: adds nothing, and nobody is authenticated.
    /// </summary>
    public static WebApplication UseCairnAuthentication(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<CairnAuthOptions>>().Value.Enabled) return app;
        app.UseAuthentication();
        app.Use(async (context, next) =>
        {
            if (context.User.Identity?.IsAuthenticated == true || PublicPaths.Contains(context.Request.Path.Value ?? ""))
            {
                await next(context);
                return;
            }
            await context.ChallengeAsync(CairnClaims.Scheme);
        });
        return app;
    }

    /// <summary>The signed-in user's id; with access control on every endpoint behind the gate has one.</summary>
    public static long RequireUserId(this HttpContext context) =>
        context.User.UserId() ?? throw new CairnException(ErrorCode.UNAUTHENTICATED, "Authentication required.");
}
