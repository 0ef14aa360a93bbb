using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Dapper;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Tests.Auth;

/// <summary>
/// A real Cairn server on 127.0.0.1 with access control on (a SQLite file in a temp folder), built from the same pieces as
/// <c>cairn server</c> (<c>AddCairnServer</c>, <c>MapCairnApi</c>). Until the authentication handler exists the principal
/// comes from a test-only scheme that reads the user name from a header and the user's row from the users table.
/// </summary>
public sealed class AuthzServer : IAsyncDisposable
{
    private const string UserHeader = "X-Test-User";

    private readonly TempDirectory _dir;
    private readonly WebApplication _app;

    private AuthzServer(TempDirectory dir, WebApplication app)
    {
        _dir = dir;
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(2) };
    }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The stores the server answers from (to set up experiments, runs and models directly).</summary>
    internal CairnStores Stores => _app.Services.GetRequiredService<ServerStores>().Inner;

    internal SqlPermissionStore Permissions => Stores.Permissions!;

    /// <summary>Every route the server maps.</summary>
    public IReadOnlyList<RouteEndpoint> Routes =>
        _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();

    public static async Task<AuthzServer> StartAsync(string defaultPermission = "READ")
    {
        var dir = new TempDirectory();
        try
        {
            var options = new CairnServerOptions
            {
                Port = 0, BackendStoreUri = dir.Path, ArtifactsDestination = dir.Combine("artifacts"), Auth = true,
                LogLevel = LogLevel.Warning,
            };
            var settings = options.ToSettings();
            settings[CairnAuthOptions.Section + ":DefaultPermission"] = defaultPermission;
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.ClearProviders();
            builder.AddCairnListener();
            builder.Services.AddCairnServer(builder.Configuration);
            builder.Services.AddAuthentication(CairnClaims.Scheme).AddScheme<AuthenticationSchemeOptions, HeaderUserHandler>(CairnClaims.Scheme, null);
            var app = builder.Build();
            app.MapCairnApi();
            await app.StartAsync(TestContext.Current.CancellationToken);
            return new AuthzServer(dir, app);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Adds a user row (as the users API would) and returns its id.</summary>
    public Task<long> CreateUserAsync(string username, bool admin = false) =>
        Stores.Database!.WriteAsync((c, tx) => c.ExecuteScalarAsync<long>(new CommandDefinition(
            "INSERT INTO users (username, password_hash, is_admin, creation_time) VALUES (@username, 'not-used', @admin, 0) RETURNING id",
            new { username, admin }, tx)), TestContext.Current.CancellationToken);

    /// <summary>Sends a request as <paramref name="user"/> (null: anonymous); <paramref name="body"/> is sent as JSON.</summary>
    public async Task<(int Status, JsonElement Body)> SendAsync(string? user, HttpMethod method, string pathAndQuery, object? body = null)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery.TrimStart('/'));
        if (user is not null) request.Headers.Add(UserHeader, user);
        if (body is not null)
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        JsonElement json = default;
        if (text.Length > 0)
        {
            try
            {
                json = JsonDocument.Parse(text).RootElement.Clone();
            }
            catch (JsonException)
            {
                json = JsonSerializer.SerializeToElement(text);
            }
        }
        return ((int)response.StatusCode, json);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dir.Dispose();
    }

    private sealed class UserRow
    {
        public long Id { get; set; }

        public bool IsAdmin { get; set; }
    }

    /// <summary>Test-only: the user named in <see cref="UserHeader"/>, with the id and admin flag of their row.</summary>
    private sealed class HeaderUserHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ServerStores stores)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (Request.Headers[UserHeader].ToString() is not { Length: > 0 } name) return AuthenticateResult.NoResult();
            await using var c = await stores.Inner.Database!.OpenReadConnectionAsync(Context.RequestAborted);
            var user = await c.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
                "SELECT id AS Id, is_admin AS IsAdmin FROM users WHERE username = @name", new { name }, cancellationToken: Context.RequestAborted));
            if (user is null) return AuthenticateResult.Fail("unknown user");
            var claims = new List<Claim> { new(ClaimTypes.Name, name), new(CairnClaims.UserIdType, user.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
            if (user.IsAdmin) claims.Add(new Claim(CairnClaims.AdminType, "true"));
            return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name)), Scheme.Name));
        }
    }
}
