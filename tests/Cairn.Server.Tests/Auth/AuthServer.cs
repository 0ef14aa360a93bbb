using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Cairn.Tests.Auth;

/// <summary>A real server on 127.0.0.1 with access control on, its first admin from CAIRN_ADMIN_PASSWORD, and requests with credentials.</summary>
internal sealed class AuthServer : IAsyncDisposable
{
    public const string AdminPassword = "admin-password-1";

    private AuthServer(RunningServer server) => Server = server;

    public RunningServer Server { get; }

    public HttpClient Http => Server.Http;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<AuthServer> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?> { ["CAIRN_ADMIN_PASSWORD"] = AdminPassword };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) all[k] = v;
        return new AuthServer(await RunningServer.StartAsync(o => o.Auth = true, all));
    }

    public static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    public static AuthenticationHeaderValue Bearer(string token) => new("Bearer", token);

    public static AuthenticationHeaderValue Admin => Basic("admin", AdminPassword);

    /// <summary>Sends <paramref name="method"/> to <paramref name="path"/> (relative to the server) with a JSON body and credentials.</summary>
    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string path, AuthenticationHeaderValue? auth,
        object? body = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = auth;
        if (body is not null) request.Content = JsonContent.Create(body);
        configure?.Invoke(request);
        var response = await Http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    public async Task<JsonElement> OkAsync(HttpMethod method, string path, AuthenticationHeaderValue? auth, object? body = null)
    {
        var (status, json, response) = await SendAsync(method, path, auth, body);
        response.Dispose();
        Assert.True(status == 200, $"{method} {path} answered {status}: {json}");
        return json;
    }

    /// <summary>Creates a (non-admin) user through MLflow's users/create as the admin.</summary>
    public Task<JsonElement> CreateUserAsync(string username, string password) =>
        OkAsync(HttpMethod.Post, "api/2.0/mlflow/users/create", Admin, new { username, password });

    public async Task<(string Id, string Token)> CreateTokenAsync(AuthenticationHeaderValue auth, string name)
    {
        var json = await OkAsync(HttpMethod.Post, "api/cairn/v1/tokens", auth, new { name });
        return (json.GetProperty("id").GetString()!, json.GetProperty("token").GetString()!);
    }

    /// <summary>The status of a cheap authenticated read.</summary>
    public async Task<int> StatusAsync(AuthenticationHeaderValue? auth)
    {
        var (status, _, response) = await SendAsync(HttpMethod.Get, "api/2.0/mlflow/experiments/get?experiment_id=0", auth);
        response.Dispose();
        return status;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
