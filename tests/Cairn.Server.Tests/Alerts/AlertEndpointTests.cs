using System.Text.Json;
using Cairn.Monitoring;
using Cairn.Monitoring.Alerts;
using Cairn.Registry;
using Cairn.Server.Hosting;
using Cairn.Serving;
using Cairn.Tests.Auth;
using Cairn.Tests.Monitoring.Alerts;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Alerts;

/// <summary>A real server with a monitoring file: windows heard as an observer, incidents over REST and on /metrics, access control.</summary>
public sealed class AlertEndpointTests
{
    private const string Api = "api/cairn/v1/monitoring/alerts";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string RulesFile(string yaml)
    {
        var path = Path.Combine(Path.GetTempPath(), "cairn-alerts-" + Guid.NewGuid().ToString("N")[..12] + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private const string Rules = """
        monitors: []
        alerts:
          - name: tenure
            condition: psi(feature=tenure) > 0.2
            actions: [log]
        """;

    private static async Task<(int Status, JsonElement Body)> GetAsync(HttpClient http, string pathAndQuery)
    {
        using var response = await http.GetAsync(pathAndQuery, Ct);
        return ((int)response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone());
    }

    private static IMonitorWindowObserver Observer(IServiceProvider services) =>
        Assert.Single(services.GetServices<IMonitorWindowObserver>());

    [Fact]
    public async Task Windows_heard_by_the_server_open_incidents_listed_over_rest_and_exported_as_a_gauge()
    {
        var file = RulesFile(Rules);
        try
        {
            await using var server = await RunningServer.StartAsync(settings: new Dictionary<string, string?> { [Cairn.Server.Monitoring.MonitoringOptions.Section + ":File"] = file });
            var observer = Observer(server.Server.Services);
            await observer.OnWindowAsync(AlertWindows.Psi(0, 0.3, "churn-api"), Ct);
            await observer.OnWindowAsync(AlertWindows.Psi(0, 0.25, "fraud-api"), Ct);
            await observer.OnWindowAsync(AlertWindows.Psi(1, 0.05, "fraud-api"), Ct); // resolved

            var all = await GetAsync(server.Http, Api);
            Assert.Equal(200, all.Status);
            var incidents = all.Body.GetProperty("incidents").EnumerateArray().ToList();
            Assert.Equal([("churn-api", "open"), ("fraud-api", "resolved")],
                incidents.Select(i => (i.GetProperty("deployment").GetString(), i.GetProperty("status").GetString())));
            Assert.Equal(0.3, incidents[0].GetProperty("values").GetProperty("psi(feature=tenure)").GetDouble());
            Assert.True(incidents[1].GetProperty("resolved_time").GetInt64() > 0);

            var open = (await GetAsync(server.Http, Api + "?status=open")).Body.GetProperty("incidents");
            Assert.Equal("churn-api", Assert.Single(open.EnumerateArray().ToList()).GetProperty("deployment").GetString());
            var fraud = (await GetAsync(server.Http, Api + "?deployment=fraud-api")).Body.GetProperty("incidents");
            Assert.Equal("fraud-api", Assert.Single(fraud.EnumerateArray().ToList()).GetProperty("deployment").GetString());
            Assert.Single((await GetAsync(server.Http, Api + "?max_results=1")).Body.GetProperty("incidents").EnumerateArray().ToList());

            var metrics = await server.Http.GetStringAsync("metrics", Ct);
            var lines = metrics.Split('\n').Where(l => l.StartsWith("cairn_alert_firing{", StringComparison.Ordinal)).ToList();
            Assert.Contains(lines, l => l.Contains("deployment=\"churn-api\"", StringComparison.Ordinal) && l.Contains("rule=\"tenure\"", StringComparison.Ordinal) && l.TrimEnd().EndsWith(" 1", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("deployment=\"fraud-api\"", StringComparison.Ordinal) && l.TrimEnd().EndsWith(" 0", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("?status=closed", "parameter 'status'")]
    [InlineData("?max_results=0", "parameter 'max_results'")]
    [InlineData("?max_results=1001", "parameter 'max_results'")]
    [InlineData("?max_results=many", "parameter 'max_results'")]
    [InlineData("?deployment=bad%20name", "deployment")]
    public async Task Bad_queries_are_refused_with_mlflows_error_body_naming_the_parameter(string query, string expected)
    {
        await using var server = await RunningServer.StartAsync();
        var (status, body) = await GetAsync(server.Http, Api + query);
        Assert.Equal(400, status);
        Assert.Equal("INVALID_PARAMETER_VALUE", body.GetProperty("error_code").GetString());
        Assert.Contains(expected, body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_rule_stops_the_server_from_starting_naming_the_rule()
    {
        var file = RulesFile("alerts:\n  - name: broken\n    condition: psi(feature=tenure) >> 0.2\n    actions: [log]\n");
        try
        {
            var e = await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
                RunningServer.StartAsync(settings: new Dictionary<string, string?> { [Cairn.Server.Monitoring.MonitoringOptions.Section + ":File"] = file }));
            Assert.Contains("alert rule 'broken': condition at position", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task With_access_control_a_caller_sees_only_incidents_of_deployments_it_may_read()
    {
        await using var authz = await AuthzServer.StartAsync(defaultPermission: "NO_PERMISSIONS");
        var readerId = await authz.CreateUserAsync("reader");
        await authz.Stores.Registry.CreateRegisteredModelAsync("churn", cancellationToken: Ct);
        await authz.Stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", "s3://b/churn/1"), Ct);
        foreach (var name in new[] { "visible-api", "hidden-api" })
            await authz.Stores.Deployments.CreateDeploymentAsync(new DeploymentSpec(name, [DeploymentRoute.Primary("models:/churn/1", 100)]), "admin", Ct);
        await authz.Permissions.GrantDeploymentAsync("visible-api", readerId, Cairn.Access.Permission.Read, Ct);

        // The server has no rules file here; the incidents are written as the engine writes them.
        var store = authz.Services.GetRequiredService<ServerAlerts>().Store;
        foreach (var name in new[] { "visible-api", "hidden-api" })
        {
            await store.SaveAsync(new AlertState("tenure", name, "churn", "1") { TrueStreak = 1, LastWindowEndMs = 1000 },
                new Cairn.Storage.NewIncident("churn", "1", "rows > 1", DateTimeOffset.FromUnixTimeMilliseconds(0), DateTimeOffset.FromUnixTimeMilliseconds(1000), new() { ["rows"] = 5 }),
                null, null, Ct);
        }

        var asReader = await authz.SendAsync("reader", HttpMethod.Get, Api);
        Assert.Equal(200, asReader.Status);
        Assert.Equal(["visible-api"], asReader.Body.GetProperty("incidents").EnumerateArray().Select(i => i.GetProperty("deployment").GetString()));
        var filtered = await authz.SendAsync("reader", HttpMethod.Get, Api + "?deployment=hidden-api");
        Assert.Empty(filtered.Body.GetProperty("incidents").EnumerateArray());
        var asAdmin = await authz.SendAsync("admin", HttpMethod.Get, Api);
        Assert.Equal(["hidden-api", "visible-api"], asAdmin.Body.GetProperty("incidents").EnumerateArray().Select(i => i.GetProperty("deployment").GetString()));
        Assert.Equal(401, (await authz.SendAsync(null, HttpMethod.Get, Api)).Status);
    }
}
