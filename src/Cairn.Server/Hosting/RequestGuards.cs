using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Cairn.Server.Hosting;

/// <summary>
/// What keeps web pages the server's user opens from driving the server (issue 11, item 2): the Host header must name
/// this server (DNS rebinding), a request from another origin is refused unless <see cref="CairnHttpOptions.CorsAllowedOrigins"/>
/// lists it (ASP.NET Core's CORS middleware then answers its preflight), and POST/PATCH to the JSON API must say they
/// carry JSON, so a form or a <c>text/plain</c> "simple request" can neither create nor delete anything.
/// </summary>
internal static class RequestGuards
{
    public const string CorsPolicy = "Cairn";

    // The JSON API. The artifact proxy (/api/2.0/mlflow-artifacts, a sibling, not a child) and the upload route below
    // take the raw bytes their clients send.
    private static readonly PathString[] s_jsonApis = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/cairn/v1"];
    private static readonly PathString[] s_rawBodies = ["/ajax-api/2.0/mlflow/upload-artifact"];

    public static IServiceCollection AddCairnRequestGuards(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CairnHttpOptions>, CairnOptionsValidation>());
        services.AddOptions<CairnHttpOptions>().Bind(configuration.GetSection(CairnHttpOptions.Section)).ValidateOnStart();
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<CairnHttpOptions>>((cors, http) => cors.AddPolicy(CorsPolicy, policy =>
        {
            var origins = CairnHttpOptions.Split(http.Value.CorsAllowedOrigins);
            if (origins.Contains("*")) policy.AllowAnyOrigin();
            // Listed origins may send credentials (Basic or a token) the way the server's own pages would.
            else policy.WithOrigins(origins).AllowCredentials();
            policy.AllowAnyHeader().AllowAnyMethod();
        }));
        services.AddSingleton<AllowedNames>();
        return services;
    }

    public static IApplicationBuilder UseCairnRequestGuards(this IApplicationBuilder app)
    {
        var names = app.ApplicationServices.GetRequiredService<AllowedNames>();
        app.Use(async (context, next) =>
        {
            if (names.Refuse(context) is { } refusal)
            {
                await MlflowExceptionHandler.WriteErrorAsync(context, refusal.Status, refusal.Code, refusal.Message, context.RequestAborted);
                return;
            }
            await next(context);
        });
        app.UseCors(CorsPolicy);
        app.Use(async (context, next) =>
        {
            if (ContentTypeProblem(context.Request) is { } message)
            {
                await MlflowExceptionHandler.WriteErrorAsync(context, 400, nameof(ErrorCode.INVALID_PARAMETER_VALUE), message, context.RequestAborted);
                return;
            }
            await next(context);
        });
        return app;
    }

    /// <summary>Whether <paramref name="value"/> is an origin as browsers send it: http(s), a host, maybe a port, nothing else.</summary>
    public static bool IsOrigin(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) &&
        uri.GetLeftPart(UriPartial.Authority).Equals(value.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    /// <summary>MLflow's check (server/validation.py), widened to every <c>+json</c> type: null when the request may pass.</summary>
    private static string? ContentTypeProblem(HttpRequest request)
    {
        if (!HttpMethods.IsPost(request.Method) && !HttpMethods.IsPatch(request.Method)) return null;
        if (!s_jsonApis.Any(p => request.Path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase))) return null;
        if (s_rawBodies.Any(p => request.Path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase))) return null;
        if (string.IsNullOrEmpty(request.ContentType)) return "Bad Request. Content-Type header is missing.";
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var type) &&
            (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) ||
             type.Type.Equals("application", StringComparison.OrdinalIgnoreCase) && type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)))
            return null;
        return $"Bad Request. Content-Type must be one of ['application/json'] (or another +json type) for {request.Method} {request.Path}; was '{request.ContentType}'.";
    }

    internal sealed record Refusal(int Status, string Code, string Message);

    /// <summary>The names the Host header may carry and the origins that may call, worked out once, on the first request.</summary>
    internal sealed class AllowedNames(IOptions<CairnHttpOptions> options, IConfiguration configuration, IServiceProvider services)
    {
        private static readonly string[] s_loopback = ["localhost", "127.0.0.1", "[::1]"];
        private static readonly string[] s_wildcards = ["0.0.0.0", "::", "[::]", "*", "+"];

        private Names? _names;

        private sealed record Names(bool AnyHost, List<StringSegment> Hosts, bool AnyOrigin, HashSet<string> Origins);

        public Refusal? Refuse(HttpContext context)
        {
            // Built on the first request, when Kestrel knows its addresses; two first requests at once build the same thing.
            var (anyHost, hosts, anyOrigin, origins) = _names ??= Build();
            var host = context.Request.Headers.Host.ToString();
            // HTTP/1.0 may leave Host out (the container's health probe does not); a name that is not ours is refused.
            // The matcher is ASP.NET Core's HostFiltering one; its middleware would answer with an empty 400, not MLflow's body.
            if (host.Length > 0 && !anyHost && !HostString.MatchesAny(host, hosts))
            {
                return new Refusal(400, nameof(ErrorCode.BAD_REQUEST),
                    $"Invalid Host header '{host}': this server answers to {string.Join(", ", hosts)}. " +
                    "Start it with --allowed-hosts NAME (Cairn:Http:AllowedHosts) to answer to another name.");
            }
            var origin = context.Request.Headers.Origin.ToString();
            if (origin.Length > 0 && !anyOrigin && !origins.Contains(origin.TrimEnd('/')) && !SameOrigin(origin, host))
            {
                return new Refusal(403, nameof(ErrorCode.PERMISSION_DENIED),
                    $"Cross-origin request from '{origin}' refused: only pages served by this server may call it. " +
                    "Start it with --cors-allowed-origins ORIGIN (Cairn:Http:CorsAllowedOrigins) to allow that origin.");
            }
            return null;
        }

        /// <summary>An origin equal to the server's own: the same host and port as the Host header (the scheme may differ behind a TLS proxy).</summary>
        private static bool SameOrigin(string origin, string host) =>
            host.Length > 0 && Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Authority.Equals(host, StringComparison.OrdinalIgnoreCase);

        private Names Build()
        {
            var http = options.Value;
            var hosts = new List<string>(s_loopback);
            var extra = CairnHttpOptions.Split(http.AllowedHosts);
            hosts.AddRange(extra.Where(h => h != "*"));
            // The names the server is bound to: the standalone server's --host, then whatever Kestrel listens on.
            var bound = new List<string>();
            if (configuration[CairnListenOptions.Section + ":Host"] is { Length: > 0 } configured) bound.Add(configured);
            var addresses = services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
            {
                var start = address.IndexOf("://", StringComparison.Ordinal);
                var rest = start < 0 ? address : address[(start + 3)..];
                var end = rest.StartsWith('[') ? rest.IndexOf(']') + 1 : rest.IndexOf(':');
                bound.Add(end <= 0 ? rest.TrimEnd('/') : rest[..end]);
            }
            foreach (var name in bound)
            {
                if (s_wildcards.Contains(name)) hosts.AddRange(MachineNames());
                else hosts.Add(Bracketed(name));
            }
            var origins = new HashSet<string>(CairnHttpOptions.Split(http.CorsAllowedOrigins).Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
            return new Names(extra.Contains("*"), hosts.Distinct(StringComparer.OrdinalIgnoreCase).Select(h => new StringSegment(h)).ToList(),
                origins.Contains("*"), origins);
        }

        /// <summary>On every interface the server answers to the machine's name and each of its addresses.</summary>
        private static IEnumerable<string> MachineNames()
        {
            var names = new List<string> { Dns.GetHostName() };
            try
            {
                foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
                {
                    foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                    {
                        var ip = unicast.Address;
                        if (ip.AddressFamily == AddressFamily.InterNetworkV6) ip = new IPAddress(ip.GetAddressBytes()); // without the scope id
                        names.Add(Bracketed(ip.ToString()));
                    }
                }
            }
            catch (NetworkInformationException)
            {
                // Without the interface list the machine's name and --allowed-hosts still apply.
            }
            return names;
        }

        private static string Bracketed(string host) =>
            IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 && !host.StartsWith('[') ? $"[{host}]" : host;
    }
}
