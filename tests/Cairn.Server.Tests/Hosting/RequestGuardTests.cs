using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Cairn.Tests.Hosting;

/// <summary>
/// Web pages the server's user opens must not drive it (issue 11, item 2): POST/PATCH to the JSON API need a JSON
/// content type, the Host header must name the server (DNS rebinding), and other origins are refused unless listed.
/// </summary>
public sealed class RequestGuardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal(code, json.GetProperty("error_code").GetString());
        return json;
    }

    private static HttpRequestMessage Create(string name, string? contentType, string path = "/api/2.0/mlflow/experiments/create")
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { name })));
        if (contentType is not null) content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
    }

    private static async Task<bool> ExistsAsync(RunningServer server, string name)
    {
        var (status, _) = await server.GetAsync("experiments/get-by-name?experiment_name=" + name);
        return status == 200;
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("text/plain;charset=UTF-8")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData(null)]
    public async Task A_post_that_is_not_json_is_refused_and_creates_nothing(string? contentType)
    {
        await using var server = await RunningServer.StartAsync();
        foreach (var path in new[] { "/api/2.0/mlflow/experiments/create", "/ajax-api/2.0/mlflow/experiments/create" })
        {
            using var response = await server.Http.SendAsync(Create("simple-request", contentType, path), Ct);
            var error = await ErrorAsync(response, HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
            Assert.StartsWith("Bad Request. Content-Type", error.GetProperty("message").GetString());
        }
        Assert.False(await ExistsAsync(server, "simple-request"));

        // PATCH and Cairn's own API are held to the same rule.
        using var patch = new HttpRequestMessage(HttpMethod.Patch, "/api/2.0/mlflow/registered-models/update")
        {
            Content = new StringContent("""{"name":"m","description":"x"}""", Encoding.UTF8, "text/plain"),
        };
        await ErrorAsync(await server.Http.SendAsync(patch, Ct), HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
        using var promote = new HttpRequestMessage(HttpMethod.Post, "/api/cairn/v1/registry/promote")
        {
            Content = new StringContent("""{"name":"m","version":"1","alias":"champion"}""", Encoding.UTF8, "text/plain"),
        };
        await ErrorAsync(await server.Http.SendAsync(promote, Ct), HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON")]
    [InlineData("application/vnd.cairn+json")]
    public async Task Json_content_types_are_accepted(string contentType)
    {
        await using var server = await RunningServer.StartAsync();
        using var response = await server.Http.SendAsync(Create("json", contentType), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await ExistsAsync(server, "json"));
    }

    [Fact]
    public async Task The_artifact_proxy_takes_whatever_body_its_clients_send()
    {
        await using var server = await RunningServer.StartAsync();
        using var put = await server.Http.PutAsync("/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt", new StringContent("x", Encoding.UTF8, "text/plain"), Ct);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/api/2.0/mlflow/experiments/get?experiment_id=0")]
    public async Task A_host_name_the_server_was_not_told_is_refused(string path)
    {
        await using var server = await RunningServer.StartAsync();
        // What a browser sends after DNS rebinding: the attacker's name, resolving to 127.0.0.1.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, path);
        rebound.Headers.Host = $"attacker.example:{server.BaseAddress.Port}";
        var error = await ErrorAsync(await server.Http.SendAsync(rebound, Ct), HttpStatusCode.BadRequest, "BAD_REQUEST");
        Assert.Contains("--allowed-hosts", error.GetProperty("message").GetString());

        foreach (var name in new[] { "localhost", "127.0.0.1", "LOCALHOST" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = $"{name}:{server.BaseAddress.Port}";
            using var response = await server.Http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Allowed_hosts_adds_names_and_subdomains_and_star_allows_any()
    {
        await using (var server = await RunningServer.StartAsync(o => o.AllowedHosts = "tracking.example, *.ml.example"))
        {
            foreach (var (name, expected) in new[] { ("tracking.example", HttpStatusCode.OK), ("a.ml.example", HttpStatusCode.OK), ("ml.example", HttpStatusCode.BadRequest), ("other.example", HttpStatusCode.BadRequest) })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
                request.Headers.Host = name;
                using var response = await server.Http.SendAsync(request, Ct);
                Assert.True(expected == response.StatusCode, $"{name}: {(int)response.StatusCode}");
            }
        }
        await using (var any = await RunningServer.StartAsync(o => o.AllowedHosts = "*"))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
            request.Headers.Host = "anything.example";
            Assert.Equal(HttpStatusCode.OK, (await any.Http.SendAsync(request, Ct)).StatusCode);
        }
    }

    [Fact]
    public async Task A_request_from_another_origin_is_refused_and_changes_nothing()
    {
        await using var server = await RunningServer.StartAsync();
        using (var request = Create("cross-origin", "application/json"))
        {
            request.Headers.Add("Origin", "https://evil.example");
            var error = await ErrorAsync(await server.Http.SendAsync(request, Ct), HttpStatusCode.Forbidden, "PERMISSION_DENIED");
            Assert.Contains("--cors-allowed-origins", error.GetProperty("message").GetString());
        }
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/2.0/mlflow/experiments/get?experiment_id=0"))
        {
            request.Headers.Add("Origin", "null"); // a sandboxed frame or a file:// page
            await ErrorAsync(await server.Http.SendAsync(request, Ct), HttpStatusCode.Forbidden, "PERMISSION_DENIED");
        }
        Assert.False(await ExistsAsync(server, "cross-origin"));

        // The server's own pages (same host and port) and clients that send no Origin keep working.
        using (var own = Create("same-origin", "application/json"))
        {
            own.Headers.Add("Origin", server.BaseAddress.GetLeftPart(UriPartial.Authority));
            Assert.Equal(HttpStatusCode.OK, (await server.Http.SendAsync(own, Ct)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await server.Http.SendAsync(Create("no-origin", "application/json"), Ct)).StatusCode);
    }

    [Fact]
    public async Task A_listed_origin_may_call_and_its_preflight_is_answered()
    {
        const string Ui = "https://ui.example";
        await using var server = await RunningServer.StartAsync(o => o.CorsAllowedOrigins = Ui + ",http://other.example:8080");

        using (var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/2.0/mlflow/experiments/create"))
        {
            preflight.Headers.Add("Origin", Ui);
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "content-type,authorization");
            using var response = await server.Http.SendAsync(preflight, Ct);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Equal(Ui, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
            Assert.Contains("POST", string.Join(",", response.Headers.GetValues("Access-Control-Allow-Methods")));
            Assert.Contains("content-type", string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        }
        using (var request = Create("from-ui", "application/json"))
        {
            request.Headers.Add("Origin", Ui);
            using var response = await server.Http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Ui, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
        }
        Assert.True(await ExistsAsync(server, "from-ui"));

        // An origin not listed gets no preflight answer and no access.
        using (var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/2.0/mlflow/experiments/create"))
        {
            preflight.Headers.Add("Origin", "https://evil.example");
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            using var response = await server.Http.SendAsync(preflight, Ct);
            await ErrorAsync(response, HttpStatusCode.Forbidden, "PERMISSION_DENIED");
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
        // A listed origin still needs JSON: CORS opens the door to pages, not to form posts.
        using (var request = Create("ui-form", "text/plain"))
        {
            request.Headers.Add("Origin", Ui);
            await ErrorAsync(await server.Http.SendAsync(request, Ct), HttpStatusCode.BadRequest, "INVALID_PARAMETER_VALUE");
        }
    }
}
