using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cairn.Cli;
using Cairn.Monitoring;
using Cairn.Monitoring.Alerts;
using Cairn.Server.Hosting;
using Cairn.Tests.Monitoring.Alerts;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests;

/// <summary><c>cairn alerts check</c> on rules files, and <c>cairn alerts list</c> against a real server on 127.0.0.1.</summary>
public sealed class AlertsCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string GoodRules = """
        monitors: []
        alerts:
          - name: tenure
            deployment: churn-api
            condition: psi(feature=tenure) > 0.2 for 2 windows
            actions:
              - log
              - webhook: {url: "https://hooks.example.com/cairn", secret_header: X-Hook-Token, secret_env: HOOK_TOKEN}
          - name: accuracy
            condition: accuracy < 0.8
            resolve_after: 3
            actions:
              - retrain: {folder: churn, stage: train}
        """;

    [Fact]
    public async Task Check_accepts_a_valid_file_and_shows_its_rules_without_the_secret()
    {
        using var cli = new CliHarness();
        cli.SetEnvironment("HOOK_TOKEN", "token-value-123");
        File.WriteAllText(Path.Combine(cli.WorkingDirectory, "monitoring.yaml"), GoodRules);
        Directory.CreateDirectory(Path.Combine(cli.WorkingDirectory, "churn"));
        File.WriteAllText(Path.Combine(cli.WorkingDirectory, "churn", "cairn.yaml"), "stages:\n  train:\n    cmd: echo train\n");
        var result = (await cli.RunAsync("alerts", "check", "monitoring.yaml")).Ok();
        Assert.Contains("monitoring.yaml: 2 alert rules, valid.", result.Out, StringComparison.Ordinal);
        Assert.Contains("psi(feature=tenure) > 0.2 for 2 windows", result.Out, StringComparison.Ordinal);
        Assert.Contains("3 windows", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("token-value-123", result.Out + result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alerts:\n  - name: drift\n    condition: drift.share >> 0.3\n    actions: [log]\n", "monitoring.yaml: alert rule 'drift': condition at position 14: expected a number after '>', not '>'")]
    [InlineData("alerts:\n  - name: drift\n    condition: drift.share > 0.3\n    actions: [email]\n", "monitoring.yaml: alert rule 'drift': actions[0]: unknown action 'email'")]
    [InlineData("alerts:\n  - name: drift\n    condition: drift.share > 0.3\n    actions:\n      - webhook: {url: 'https://x/y', secret_header: X-T, secret_env: MISSING_TOKEN}\n", "alert rule 'drift': actions[0] (webhook): 'secret_env' names environment variable 'MISSING_TOKEN', which is not set")]
    [InlineData("alerts:\n  - name: drift\n    condition: drift.share > 0.3\n    actions:\n      - retrain: {folder: nowhere, stage: train}\n", "monitoring.yaml: alert rule 'drift': retrain: folder")]
    [InlineData("alerts:\n  - name: drift\n    condition: drift.share > 0.3\n    actions: [log]\nalert: []\n", "monitoring.yaml: unknown top-level key 'alert'")]
    public async Task Check_refuses_a_bad_rule_with_exit_2_and_one_line_naming_the_rule_and_the_problem(string yaml, string expected)
    {
        using var cli = new CliHarness();
        File.WriteAllText(Path.Combine(cli.WorkingDirectory, "monitoring.yaml"), yaml);
        var line = (await cli.RunAsync("alerts", "check", "monitoring.yaml")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_of_a_missing_file_exits_3()
    {
        using var cli = new CliHarness();
        Assert.Contains("does not exist", (await cli.RunAsync("alerts", "check", "missing.yaml")).FailedWith(ExitCodes.NotFound), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_reads_a_servers_incidents_as_a_table_or_json()
    {
        using var cli = new CliHarness();
        var rules = Path.Combine(cli.Home.Path, "monitoring.yaml");
        File.WriteAllText(rules, "alerts:\n  - name: tenure\n    condition: psi(feature=tenure) > 0.2\n    actions: [log]\n");
        var settings = new CairnServerOptions
        {
            Port = 0, BackendStoreUri = cli.Home.Combine("server"), ArtifactsDestination = cli.Home.Combine("server", "artifacts"),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
        }.ToSettings();
        settings["CAIRN_HOME"] = cli.Home.Combine("server");
        settings[Cairn.Server.Monitoring.MonitoringOptions.Section + ":File"] = rules;
        await using var server = await CairnServer.StartAsync(settings, cancellationToken: Ct);
        var observer = server.Services.GetRequiredService<IMonitorWindowObserver>();
        await observer.OnWindowAsync(AlertWindows.Psi(0, 0.3, "churn-api"), Ct);
        await observer.OnWindowAsync(AlertWindows.Psi(0, 0.4, "fraud-api"), Ct);
        await observer.OnWindowAsync(AlertWindows.Psi(1, 0.01, "fraud-api"), Ct);
        var uri = server.Address.ToString();

        var json = JsonDocument.Parse((await cli.RunAsync("alerts", "list", "--tracking-uri", uri, "--json")).Ok().Out).RootElement.GetProperty("incidents");
        Assert.Equal([("churn-api", "open"), ("fraud-api", "resolved")],
            json.EnumerateArray().Select(i => (i.GetProperty("deployment").GetString(), i.GetProperty("status").GetString())));
        var open = JsonDocument.Parse((await cli.RunAsync("alerts", "list", "--tracking-uri", uri, "--open", "--json")).Ok().Out).RootElement.GetProperty("incidents");
        Assert.Equal("churn-api", Assert.Single(open.EnumerateArray().ToList()).GetProperty("deployment").GetString());
        var fraud = JsonDocument.Parse((await cli.RunAsync("alerts", "list", "--tracking-uri", uri, "--deployment", "fraud-api", "--json")).Ok().Out).RootElement;
        Assert.Equal("resolved", Assert.Single(fraud.GetProperty("incidents").EnumerateArray().ToList()).GetProperty("status").GetString());

        var table = (await cli.RunAsync("alerts", "list", "--tracking-uri", uri)).Ok().Out;
        Assert.Contains("tenure", table, StringComparison.Ordinal);
        Assert.Contains("psi(feature=tenure)=0.3", table, StringComparison.Ordinal);
        Assert.Contains("churn/1", table, StringComparison.Ordinal);

        Assert.Contains("--max-results", (await cli.RunAsync("alerts", "list", "--tracking-uri", uri, "--max-results", "0")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("No alert incidents.", (await cli.RunAsync("alerts", "list", "--tracking-uri", uri, "--deployment", "other-api")).Ok().Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_firing_rule_retrains_through_a_pipeline_stage_that_trains_and_registers_a_new_model_version()
    {
        using var cli = new CliHarness();
        var pipeline = cli.Home.Combine("churn");
        Directory.CreateDirectory(pipeline);
        var random = new Random(7);
        var csv = new StringBuilder("tenure,spend,churned\n");
        for (var i = 0; i < 200; i++)
        {
            double tenure = random.NextDouble() * 60, spend = random.NextDouble() * 100;
            csv.Append(CultureInfo.InvariantCulture, $"{tenure:0.##},{spend:0.##},{(tenure < 12 && spend > 30 ? 1 : 0)}\n");
        }
        File.WriteAllText(Path.Combine(pipeline, "train.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(pipeline, "recipe.yaml"), """
            experiment: retrain
            task: binary
            data: train.csv
            label: churned
            trainer: {name: fasttree, hyperparameters: {number_of_trees: 5}}
            """);
        var settings = new CairnServerOptions
        {
            Port = 0, BackendStoreUri = cli.Home.Combine("server"), ArtifactsDestination = cli.Home.Combine("server", "artifacts"),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
        }.ToSettings();
        settings["CAIRN_HOME"] = cli.Home.Combine("server");
        var rules = cli.Home.Combine("monitoring.yaml");
        settings[Cairn.Server.Monitoring.MonitoringOptions.Section + ":File"] = rules;
        // The stage's command is the real cairn: it trains on the pipeline's data and registers into the server it names.
        var cairn = Path.Combine(AppContext.BaseDirectory, "cairn.dll");
        File.WriteAllText(Path.Combine(pipeline, "cairn.yaml"), "stages:\n  train:\n    cmd: dotnet \"" + cairn +
            "\" train --recipe recipe.yaml --register churn --tracking-uri \"$CAIRN_RETRAIN_SERVER\"\n    deps: [train.csv, recipe.yaml]\n");
        File.WriteAllText(rules, "alerts:\n  - name: tenure\n    condition: psi(feature=tenure) > 0.2\n    actions:\n      - retrain: {folder: churn, stage: train}\n");

        await using var server = await CairnServer.StartAsync(settings, cancellationToken: Ct);
        var uri = server.Address.ToString();
        Environment.SetEnvironmentVariable("CAIRN_RETRAIN_SERVER", uri); // the stage inherits the server's environment
        try
        {
            await server.Services.GetRequiredService<IMonitorWindowObserver>().OnWindowAsync(AlertWindows.Psi(0, 0.3, "churn-api"), Ct);
            var clock = Stopwatch.StartNew();
            JsonElement incident;
            while (true)
            {
                var listed = JsonDocument.Parse((await cli.RunAsync("alerts", "list", "--tracking-uri", uri, "--json")).Ok().Out).RootElement;
                incident = Assert.Single(listed.GetProperty("incidents").EnumerateArray().ToList());
                if (incident.TryGetProperty("retrain_status", out var status) && status.GetString() is "succeeded" or "failed") break;
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"the retrain did not finish: {incident}");
                await Task.Delay(250, Ct);
            }
            Assert.True(incident.GetProperty("retrain_status").GetString() == "succeeded", incident.ToString());
            Assert.False(string.IsNullOrEmpty(incident.GetProperty("retrain_run_id").GetString()));

            var models = (await cli.RunAsync("models", "show", "churn", "--tracking-uri", uri)).Ok().Out;
            Assert.Contains("churn", models, StringComparison.Ordinal);
            using var stores = await Cairn.Storage.CairnStores.OpenAsync(uri, cancellationToken: Ct);
            var version = await stores.Registry.GetModelVersionAsync("churn", "1", Ct);
            Assert.Equal("churn", version.Name);
            Assert.False(string.IsNullOrEmpty(version.RunId));
        }
        finally
        {
            Environment.SetEnvironmentVariable("CAIRN_RETRAIN_SERVER", null);
        }
    }
}
