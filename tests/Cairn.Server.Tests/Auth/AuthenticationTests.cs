using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Cairn.Server.Hosting;

namespace Cairn.Tests.Auth;

/// <summary>Authentication on a real server with access control on: HTTP Basic, bearer tokens, the credential cache, the failed-login limiter.</summary>
public sealed class AuthenticationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Basic_credentials_right_wrong_and_missing()
    {
        await using var server = await AuthServer.StartAsync();
        Assert.Equal(200, await server.StatusAsync(AuthServer.Admin));

        foreach (var auth in new AuthenticationHeaderValue?[] { null, AuthServer.Basic("admin", "wrong-password"), AuthServer.Basic("nobody", "whatever-1"),
                     new("Basic", "not base64!"), new("Digest", "x") })
        {
            var (status, body, response) = await server.SendAsync(HttpMethod.Get, "api/2.0/mlflow/experiments/get?experiment_id=0", auth);
            using (response)
            {
                Assert.Equal(401, status);
                Assert.Equal("UNAUTHENTICATED", body.GetProperty("error_code").GetString());
                Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
                Assert.Equal("Basic realm=\"cairn\"", Assert.Single(response.Headers.WwwAuthenticate).ToString());
                Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            }
        }
    }

    [Fact]
    public async Task Every_route_but_health_and_version_needs_credentials()
    {
        await using var server = await AuthServer.StartAsync();
        foreach (var path in new[] { "health", "health/live", "health/ready", "version" })
        {
            using var response = await server.Http.GetAsync(path, Ct);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode}");
        }
        foreach (var (method, path) in new[]
                 {
                     ("GET", "api/2.0/mlflow/experiments/search"), ("POST", "api/2.0/mlflow/runs/log-metric"), ("POST", "ajax-api/2.0/mlflow/experiments/create"),
                     ("GET", "api/2.0/mlflow-artifacts/artifacts/0/x"), ("GET", "api/cairn/v1/registry/audit?name=m"), ("GET", "api/cairn/v1/tokens"),
                     ("GET", "api/2.0/mlflow/users/get?username=admin"), ("GET", "metrics"), ("GET", "openapi/cairn.json"), ("GET", "api/2.0/mlflow/no-such-thing"),
                 })
        {
            var (status, body, response) = await server.SendAsync(new HttpMethod(method), path, null, method == "POST" ? new { } : null);
            response.Dispose();
            Assert.True(status == 401, $"{method} {path} answered {status}");
            Assert.Equal("UNAUTHENTICATED", body.GetProperty("error_code").GetString());
        }
    }

    [Fact]
    public async Task Headers_exactly_as_the_MLflow_clients_send_them()
    {
        await using var server = await AuthServer.StartAsync();
        await server.CreateUserAsync("alice", "alice-password");
        var (_, token) = await server.CreateTokenAsync(AuthServer.Basic("alice", "alice-password"), "python");

        // mlflow/utils/rest_utils.py: requests' HTTPBasicAuth for MLFLOW_TRACKING_USERNAME/PASSWORD ("Basic " + base64 of
        // "user:password" in latin-1), "Bearer <token>" for MLFLOW_TRACKING_TOKEN; the user agent and JSON body as the client sends them.
        foreach (var header in new[] { "Basic " + Convert.ToBase64String(Encoding.Latin1.GetBytes("alice:alice-password")), "Bearer " + token })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/2.0/mlflow/experiments/create")
            {
                Content = new StringContent($"{{\"name\": \"from-{header[..5]}\"}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Authorization", header);
            request.Headers.TryAddWithoutValidation("User-Agent", "mlflow-python-client/2.11.0");
            using var response = await server.Http.SendAsync(request, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{header[..6]}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        }
    }

    [Fact]
    public async Task Cairns_own_http_client_sends_the_environments_credentials()
    {
        await using var server = await AuthServer.StartAsync();
        var uri = server.Server.BaseAddress.ToString();
        var basic = Cairn.Client.HttpTrackingStoreOptions.FromEnvironment(n => n switch
        {
            "MLFLOW_TRACKING_USERNAME" => "admin", "MLFLOW_TRACKING_PASSWORD" => AuthServer.AdminPassword, _ => null,
        });
        using (var stores = await Cairn.Storage.CairnStores.OpenAsync(uri, new Cairn.Storage.CairnStoreOptions { Http = basic }, Ct))
            Assert.Equal("Default", (await stores.Tracking.GetExperimentAsync("0", Ct)).Name);

        var (_, token) = await server.CreateTokenAsync(AuthServer.Admin, "sdk");
        var bearer = Cairn.Client.HttpTrackingStoreOptions.FromEnvironment(n => n == "MLFLOW_TRACKING_TOKEN" ? token : null);
        using (var stores = await Cairn.Storage.CairnStores.OpenAsync(uri, new Cairn.Storage.CairnStoreOptions { Http = bearer }, Ct))
            Assert.Equal("Default", (await stores.Tracking.GetExperimentAsync("0", Ct)).Name);

        using var anonymous = await Cairn.Storage.CairnStores.OpenAsync(uri, cancellationToken: Ct);
        var error = await Assert.ThrowsAnyAsync<CairnException>(() => anonymous.Tracking.GetExperimentAsync("0", Ct));
        Assert.Equal(ErrorCode.UNAUTHENTICATED, error.ErrorCode);
    }

    [Fact]
    public async Task A_bearer_token_works_until_revoked_and_fails_on_the_very_next_request()
    {
        await using var server = await AuthServer.StartAsync();
        var (id, token) = await server.CreateTokenAsync(AuthServer.Admin, "ci");
        Assert.StartsWith("cairn_", token, StringComparison.Ordinal);
        // Twice: the second answer comes from the credential cache.
        Assert.Equal(200, await server.StatusAsync(AuthServer.Bearer(token)));
        Assert.Equal(200, await server.StatusAsync(AuthServer.Bearer(token)));
        Assert.Equal(401, await server.StatusAsync(AuthServer.Bearer(token + "x")));

        var revoked = await server.OkAsync(HttpMethod.Delete, $"api/cairn/v1/tokens/{id}", AuthServer.Admin);
        Assert.True(revoked.GetProperty("token").GetProperty("revoked_time").GetInt64() > 0);
        Assert.Equal(401, await server.StatusAsync(AuthServer.Bearer(token)));
    }

    [Fact]
    public async Task A_password_change_holds_from_the_very_next_request()
    {
        await using var server = await AuthServer.StartAsync();
        await server.CreateUserAsync("bob", "old-password");
        var old = AuthServer.Basic("bob", "old-password");
        Assert.Equal(200, await server.StatusAsync(old));
        Assert.Equal(200, await server.StatusAsync(old)); // cached now

        await server.OkAsync(HttpMethod.Patch, "api/2.0/mlflow/users/update-password", old, new { username = "bob", password = "new-password" });
        Assert.Equal(401, await server.StatusAsync(old));
        Assert.Equal(200, await server.StatusAsync(AuthServer.Basic("bob", "new-password")));
    }

    [Fact]
    public async Task Admin_rights_and_deletion_hold_from_the_very_next_request()
    {
        await using var server = await AuthServer.StartAsync();
        await server.CreateUserAsync("carol", "carol-password");
        var carol = AuthServer.Basic("carol", "carol-password");
        var (status, _, r) = await server.SendAsync(HttpMethod.Get, "api/2.0/mlflow/users/get?username=admin", carol);
        r.Dispose();
        Assert.Equal(403, status);

        await server.OkAsync(HttpMethod.Patch, "api/2.0/mlflow/users/update-admin", AuthServer.Admin, new { username = "carol", is_admin = true });
        await server.OkAsync(HttpMethod.Get, "api/2.0/mlflow/users/get?username=admin", carol);

        await server.OkAsync(HttpMethod.Delete, "api/2.0/mlflow/users/delete", AuthServer.Admin, new { username = "carol" });
        Assert.Equal(401, await server.StatusAsync(carol));
    }

    [Fact]
    public async Task Failed_logins_are_limited_per_user_then_answered_429_with_Retry_After()
    {
        await using var server = await AuthServer.StartAsync();
        await server.CreateUserAsync("dave", "dave-password");
        for (var i = 0; i < 10; i++)
            Assert.Equal(401, await server.StatusAsync(AuthServer.Basic("dave", "wrong-" + i)));

        // Blocked now, the right password too.
        var (status, body, response) = await server.SendAsync(HttpMethod.Get, "api/2.0/mlflow/experiments/get?experiment_id=0", AuthServer.Basic("dave", "dave-password"));
        using (response)
        {
            Assert.Equal(429, status);
            Assert.Equal("REQUEST_LIMIT_EXCEEDED", body.GetProperty("error_code").GetString());
            var retryAfter = response.Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value.TotalSeconds, 1, 60);
        }
    }

    [Fact]
    public async Task Failed_logins_are_limited_per_client_address_across_user_names()
    {
        await using var server = await AuthServer.StartAsync();
        for (var i = 0; i < 10; i++)
            Assert.Equal(401, await server.StatusAsync(AuthServer.Basic("user" + i, "wrong-password")));
        Assert.Equal(429, await server.StatusAsync(AuthServer.Basic("someone-else", "wrong-password")));
        Assert.Equal(429, await server.StatusAsync(AuthServer.Bearer("cairn_guess")));
    }

    [Fact]
    public async Task The_audit_trail_records_the_logged_in_user_and_ignores_X_Cairn_User()
    {
        await using var server = await AuthServer.StartAsync();
        await server.CreateUserAsync("erin", "erin-password");
        var erin = AuthServer.Basic("erin", "erin-password");
        await server.OkAsync(HttpMethod.Post, "api/2.0/mlflow/registered-models/create", erin, new { name = "m" });
        await server.OkAsync(HttpMethod.Post, "api/2.0/mlflow/model-versions/create", erin, new { name = "m", source = "s3://bucket/model" });
        var (status, body, response) = await server.SendAsync(HttpMethod.Post, "api/2.0/mlflow/registered-models/alias", erin,
            new { name = "m", alias = "champion", version = "1" }, r => r.Headers.Add("X-Cairn-User", "mallory"));
        response.Dispose();
        Assert.True(status == 200, body.ToString());
        await server.OkAsync(HttpMethod.Post, "api/2.0/mlflow/model-versions/transition-stage", erin,
            new { name = "m", version = "1", stage = "Staging", archive_existing_versions = false });

        var audit = await server.OkAsync(HttpMethod.Get, "api/cairn/v1/registry/audit?name=m", erin);
        var users = audit.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("user").GetString()).ToList();
        Assert.Equal(2, users.Count);
        Assert.All(users, u => Assert.Equal("erin", u));
    }

    [Fact]
    public async Task A_public_address_is_refused_without_auth_unless_insecure()
    {
        var refused = await Assert.ThrowsAsync<InvalidParameterValueException>(() => RunningServer.StartAsync(o => o.Host = "0.0.0.0"));
        Assert.Contains("--auth", refused.Message, StringComparison.Ordinal);
        Assert.Contains("--insecure", refused.Message, StringComparison.Ordinal);

        await using (var insecure = await RunningServer.StartAsync(o => { o.Host = "0.0.0.0"; o.Insecure = true; }))
            Assert.NotEqual(0, insecure.Server.Address.Port);
        await using (var withAuth = await RunningServer.StartAsync(o => { o.Host = "0.0.0.0"; o.Auth = true; }, new Dictionary<string, string?> { ["CAIRN_ADMIN_PASSWORD"] = "admin-password-1" }))
            Assert.NotEqual(0, withAuth.Server.Address.Port);
        // Loopback addresses and names need neither.
        Assert.True(Cairn.Server.Auth.ExposureGuard.IsLoopback("localhost"));
        Assert.True(Cairn.Server.Auth.ExposureGuard.IsLoopback("127.0.0.2"));
        Assert.True(Cairn.Server.Auth.ExposureGuard.IsLoopback("::1"));
        Assert.False(Cairn.Server.Auth.ExposureGuard.IsLoopback("::"));
        Assert.False(Cairn.Server.Auth.ExposureGuard.IsLoopback("192.168.1.10"));
    }

    [Fact]
    public async Task With_access_control_off_nobody_logs_in_and_the_user_endpoints_say_it_is_off()
    {
        await using var server = await RunningServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/2.0/mlflow/experiments/get?experiment_id=0");
        request.Headers.Authorization = AuthServer.Basic("anyone", "anything-at-all");
        using var response = await server.Http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (status, body) = await server.GetAsync("users/get?username=admin");
        Assert.Equal(404, status);
        Assert.Equal("ENDPOINT_NOT_FOUND", body.GetProperty("error_code").GetString());
        Assert.Contains("--auth", body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Server_options_map_auth_and_insecure_to_configuration()
    {
        var settings = new CairnServerOptions { Auth = true, Insecure = true }.ToSettings();
        Assert.Equal("true", settings["Cairn:Auth:Enabled"]);
        Assert.Equal("true", settings["Cairn:Server:Insecure"]);
    }
}
