using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Auth;

/// <summary>
/// A real <c>cairn server</c> on 127.0.0.1 with access control on (a SQLite file in a temp folder): users are created through
/// MLflow's users API by the first admin and every request carries HTTP Basic credentials, as the MLflow clients send them.
/// </summary>
public sealed class AuthzServer : IAsyncDisposable
{
    private const string AdminPassword = "bootstrap-password-1";

    private AuthzServer(RunningServer server) => Server = server;

    public RunningServer Server { get; }

    public IServiceProvider Services => Server.Server.Services;

    /// <summary>The stores the server answers from (to set up experiments, runs and models directly).</summary>
    internal CairnStores Stores => Services.GetRequiredService<ServerStores>().Inner;

    internal SqlPermissionStore Permissions => Stores.Permissions!;

    /// <summary>Every route the server maps.</summary>
    public IReadOnlyList<RouteEndpoint> Routes =>
        Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<AuthzServer> StartAsync(string defaultPermission = "READ") =>
        new(await RunningServer.StartAsync(o => o.Auth = true, new Dictionary<string, string?>
        {
            ["CAIRN_ADMIN_PASSWORD"] = AdminPassword,
            [CairnAuthOptions.Section + ":DefaultPermission"] = defaultPermission,
        }));

    /// <summary>The password every test user gets.</summary>
    private static string PasswordOf(string user) => user == "admin" ? AdminPassword : user + "-password";

    /// <summary>Creates a user through users/create (and users/update-admin) as the first admin; returns the user's id.</summary>
    public async Task<long> CreateUserAsync(string username, bool admin = false)
    {
        var (status, body) = await SendAsync("admin", HttpMethod.Post, "api/2.0/mlflow/users/create", new { username, password = PasswordOf(username) });
        Assert.True(status == 200, $"users/create answered {status}: {body}");
        if (admin)
        {
            var (adminStatus, adminBody) = await SendAsync("admin", HttpMethod.Patch, "api/2.0/mlflow/users/update-admin", new { username, is_admin = true });
            Assert.True(adminStatus == 200, $"users/update-admin answered {adminStatus}: {adminBody}");
        }
        return body.GetProperty("user").GetProperty("id").GetInt64();
    }

    /// <summary>Sends a request as <paramref name="user"/> with HTTP Basic (null: anonymous); <paramref name="body"/> is sent as JSON.</summary>
    public async Task<(int Status, JsonElement Body)> SendAsync(string? user, HttpMethod method, string pathAndQuery, object? body = null)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery.TrimStart('/'));
        if (user is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{PasswordOf(user)}")));
        if (body is not null)
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await Server.Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
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

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
