using System.Text.Json;
using System.Text.RegularExpressions;
using Cairn.Cli;
using Cairn.Client;
using Cairn.Tracking;

namespace Cairn.Tests;

/// <summary>`cairn experiments|runs|artifacts` in-process over a temp CAIRN_HOME, tables and --json.</summary>
public sealed partial class TrackingCommandsTests : IDisposable
{
    private readonly CliHarness _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    [GeneratedRegex(@"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")]
    private static partial Regex LocalTime();

    /// <summary>Two finished runs in experiment "churn" that share a seed and differ in lr and acc.</summary>
    private async Task<(string First, string Second)> SeedRunsAsync()
    {
        using var client = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct);
        string first, second;
        using (var run = await client.StartRunAsync("churn", runName: "baseline", cancellationToken: Ct))
        {
            first = run.RunId;
            run.LogParam("lr", "0.1");
            run.LogParam("seed", "42");
            run.LogMetric("acc", 0.81);
            run.SetTag("team", "growth");
            run.LogInput(new Dataset("customers", "d1g35t", "local", "{\"uri\":\"data/customers.csv\"}"), "training");
        }
        using (var run = await client.StartRunAsync("churn", runName: "tuned", cancellationToken: Ct))
        {
            second = run.RunId;
            run.LogParam("lr", "0.01");
            run.LogParam("seed", "42");
            run.LogMetric("acc", 0.93);
        }
        return (first, second);
    }

    [Fact]
    public async Task Experiments_create_then_list_as_table_and_json()
    {
        var id = (await _cli.RunAsync("experiments", "create", "fraud")).Ok().Out.Trim();
        Assert.Equal("1", id);
        var table = (await _cli.RunAsync("experiments", "list")).Ok().Out;
        Assert.Contains("fraud", table);
        Assert.Contains("Default", table);
        Assert.Matches(LocalTime(), table);

        using var json = JsonDocument.Parse((await _cli.RunAsync("experiments", "list", "--json")).Ok().Out);
        var experiments = json.RootElement.GetProperty("experiments").EnumerateArray().ToList();
        var fraud = experiments.Single(e => e.GetProperty("name").GetString() == "fraud");
        Assert.Equal("1", fraud.GetProperty("experiment_id").GetString());
        Assert.Equal("active", fraud.GetProperty("lifecycle_stage").GetString());
        Assert.True(fraud.GetProperty("creation_time").GetInt64() > 1_600_000_000_000); // raw ms, not text
    }

    [Fact]
    public async Task Experiments_create_json_is_mlflow_shaped()
    {
        using var json = JsonDocument.Parse((await _cli.RunAsync("experiments", "create", "x", "--json")).Ok().Out);
        Assert.Equal("1", json.RootElement.GetProperty("experiment_id").GetString());
    }

    [Fact]
    public async Task Duplicate_experiment_exits_already_exists_with_one_line()
    {
        (await _cli.RunAsync("experiments", "create", "dup")).Ok();
        var line = (await _cli.RunAsync("experiments", "create", "dup")).FailedWith(ExitCodes.InvalidState);
        Assert.Contains("dup", line);
    }

    [Fact]
    public async Task Experiments_delete_and_restore_by_name_with_views()
    {
        (await _cli.RunAsync("experiments", "create", "old")).Ok();
        Assert.Contains("deleted", (await _cli.RunAsync("experiments", "delete", "old")).Ok().Out);
        Assert.DoesNotContain("old", (await _cli.RunAsync("experiments", "list")).Ok().Out);
        Assert.Contains("old", (await _cli.RunAsync("experiments", "list", "--view", "deleted")).Ok().Out);
        var all = (await _cli.RunAsync("experiments", "list", "--view", "all")).Ok().Out;
        Assert.Contains("old", all);
        Assert.Contains("Default", all);
        (await _cli.RunAsync("experiments", "restore", "1")).Ok();
        Assert.Contains("old", (await _cli.RunAsync("experiments", "list")).Ok().Out);
    }

    [Fact]
    public async Task Bad_view_is_a_user_error()
    {
        (await _cli.RunAsync("experiments", "list", "--view", "archived")).FailedWith(ExitCodes.InvalidInput);
    }

    [Fact]
    public async Task Runs_list_shows_runs_with_filter_order_and_limit()
    {
        var (first, second) = await SeedRunsAsync();
        var table = (await _cli.RunAsync("runs", "list", "--experiment", "churn")).Ok().Out;
        Assert.Contains(first, table);
        Assert.Contains(second, table);
        Assert.Contains("acc=0.93", table);
        Assert.Contains("FINISHED", table);
        Assert.Matches(LocalTime(), table);

        var filtered = (await _cli.RunAsync("runs", "list", "-e", "churn", "--filter", "metrics.acc > 0.9")).Ok().Out;
        Assert.Contains(second, filtered);
        Assert.DoesNotContain(first, filtered);

        using var ordered = JsonDocument.Parse((await _cli.RunAsync("runs", "list", "-e", "churn", "--order-by", "metrics.acc ASC", "--json")).Ok().Out);
        Assert.Equal([first, second], ordered.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("info").GetProperty("run_id").GetString()));

        using var limited = JsonDocument.Parse((await _cli.RunAsync("runs", "list", "-e", "1", "--max-results", "1", "--order-by", "metrics.acc DESC", "--json")).Ok().Out);
        var only = Assert.Single(limited.RootElement.GetProperty("runs").EnumerateArray());
        Assert.Equal(second, only.GetProperty("info").GetProperty("run_id").GetString());
        Assert.True(only.GetProperty("info").GetProperty("start_time").GetInt64() > 1_600_000_000_000);
    }

    [Fact]
    public async Task Runs_list_of_unknown_experiment_exits_not_found_with_one_line()
    {
        var line = (await _cli.RunAsync("runs", "list", "--experiment", "nope")).FailedWith(ExitCodes.NotFound);
        Assert.Contains("nope", line);
    }

    [Fact]
    public async Task Runs_list_with_bad_filter_exits_user_error_with_one_line()
    {
        await SeedRunsAsync();
        var line = (await _cli.RunAsync("runs", "list", "-e", "churn", "--filter", "metrics.acc >>> 1")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("filter", line, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Runs_show_prints_info_params_metrics_tags_and_inputs()
    {
        var (first, _) = await SeedRunsAsync();
        var text = (await _cli.RunAsync("runs", "show", first)).Ok().Out;
        foreach (var expected in new[] { first, "baseline", "FINISHED", "lr", "0.1", "seed", "acc", "0.81", "team", "growth", "mlflow.user", "customers", "d1g35t", "training" })
            Assert.Contains(expected, text);
        Assert.Matches(LocalTime(), text);

        using var json = JsonDocument.Parse((await _cli.RunAsync("runs", "show", first, "--json")).Ok().Out);
        var run = json.RootElement.GetProperty("run");
        Assert.Equal(first, run.GetProperty("info").GetProperty("run_id").GetString());
        Assert.Equal("FINISHED", run.GetProperty("info").GetProperty("status").GetString());
        Assert.Equal(0.81, run.GetProperty("data").GetProperty("metrics")[0].GetProperty("value").GetDouble());
        Assert.Equal("customers", run.GetProperty("inputs").GetProperty("dataset_inputs")[0].GetProperty("dataset").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Runs_show_of_unknown_run_exits_not_found_with_one_line()
    {
        var line = (await _cli.RunAsync("runs", "show", "0123456789abcdef0123456789abcdef")).FailedWith(ExitCodes.NotFound);
        Assert.Contains("0123456789abcdef0123456789abcdef", line);
    }

    [Fact]
    public async Task Verbose_adds_the_stack_trace()
    {
        var result = await _cli.RunAsync("runs", "show", "0123456789abcdef0123456789abcdef", "--verbose");
        Assert.Equal(ExitCodes.NotFound, result.ExitCode);
        Assert.True(result.ErrLines.Length > 1);
        Assert.Contains(" at ", result.Err);
    }

    [Fact]
    public async Task Runs_compare_highlights_differences_and_dims_the_rest()
    {
        var (first, second) = await SeedRunsAsync();
        var text = (await _cli.RunAsync("runs", "compare", first, second)).Ok().Out;
        foreach (var expected in new[] { "baseline", "tuned", "lr", "0.1", "0.01", "seed", "42", "acc", "0.81", "0.93" })
            Assert.Contains(expected, text);

        var coloured = (await _cli.RunAsync(ansi: true, "runs", "compare", first, second)).Ok().Out.Split('\n');
        var lrLine = coloured.Single(l => l.Contains("0.01"));
        var seedLine = coloured.Single(l => l.Contains("seed"));
        Assert.Contains("\u001b[1;", lrLine);   // bold: the values differ
        Assert.Contains("\u001b[2m", seedLine);  // dim: the same in both runs
        Assert.DoesNotContain("\u001b[2m", lrLine);

        var onlyDiff = (await _cli.RunAsync("runs", "compare", first, second, "--only-diff")).Ok().Out;
        Assert.Contains("lr", onlyDiff);
        Assert.DoesNotContain("seed", onlyDiff);

        using var json = JsonDocument.Parse((await _cli.RunAsync("runs", "compare", first, second, "--json")).Ok().Out);
        var root = json.RootElement;
        Assert.Equal([first, second], root.GetProperty("run_ids").EnumerateArray().Select(e => e.GetString()));
        var lr = root.GetProperty("params").EnumerateArray().Single(p => p.GetProperty("key").GetString() == "lr");
        Assert.True(lr.GetProperty("differs").GetBoolean());
        Assert.Equal(["0.1", "0.01"], lr.GetProperty("values").EnumerateArray().Select(v => v.GetString()));
        var seed = root.GetProperty("params").EnumerateArray().Single(p => p.GetProperty("key").GetString() == "seed");
        Assert.False(seed.GetProperty("differs").GetBoolean());
        var acc = root.GetProperty("metrics").EnumerateArray().Single();
        Assert.Equal([0.81, 0.93], acc.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()));
    }

    [Fact]
    public async Task Runs_compare_needs_two_runs()
    {
        var (first, _) = await SeedRunsAsync();
        (await _cli.RunAsync("runs", "compare", first)).FailedWith(ExitCodes.InvalidInput);
        (await _cli.RunAsync("runs", "compare", first, "0123456789abcdef0123456789abcdef")).FailedWith(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Unknown_option_exits_user_error_with_one_line()
    {
        var line = (await _cli.RunAsync("runs", "list", "--bogus")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("--bogus", line);
    }

    [Fact]
    public async Task Artifacts_list_and_download_from_a_local_store()
    {
        var (first, _) = await SeedRunsAsync();
        string root;
        using (var client = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct))
            root = (await client.Store.GetRunAsync(first, Ct)).Info.ArtifactUri;
        Directory.CreateDirectory(Path.Combine(root, "model"));
        await File.WriteAllTextAsync(Path.Combine(root, "model", "MLmodel"), "flavors: {}", Ct);
        await File.WriteAllTextAsync(Path.Combine(root, "report.html"), "<html/>", Ct);

        var table = (await _cli.RunAsync("artifacts", "list", first)).Ok().Out;
        Assert.Contains("model", table);
        Assert.Contains("report.html", table);
        Assert.Contains("7 B", table);
        using (var json = JsonDocument.Parse((await _cli.RunAsync("artifacts", "list", first, "model", "--json")).Ok().Out))
        {
            var file = Assert.Single(json.RootElement.GetProperty("files").EnumerateArray());
            Assert.Equal("model/MLmodel", file.GetProperty("path").GetString());
            Assert.False(file.GetProperty("is_dir").GetBoolean());
            Assert.Equal(11, file.GetProperty("file_size").GetInt64());
        }

        var dest = _cli.Home.Combine("out");
        (await _cli.RunAsync("artifacts", "download", first, "model", "--dest", dest)).Ok();
        Assert.Equal("flavors: {}", await File.ReadAllTextAsync(Path.Combine(dest, "model", "MLmodel"), Ct));
        Assert.False(File.Exists(Path.Combine(dest, "report.html")));
        (await _cli.RunAsync("artifacts", "download", first, "missing", "--dest", dest)).FailedWith(ExitCodes.NotFound);
        (await _cli.RunAsync("artifacts", "list", "0123456789abcdef0123456789abcdef")).FailedWith(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Tracking_uri_comes_from_the_environment_then_the_flag()
    {
        using var other = new TempDirectory();
        _cli.SetEnvironment("CAIRN_TRACKING_URI", other.Path);
        (await _cli.RunAsync("experiments", "create", "elsewhere")).Ok();
        _cli.SetEnvironment("CAIRN_TRACKING_URI", null);
        Assert.DoesNotContain("elsewhere", (await _cli.RunAsync("experiments", "list")).Ok().Out);
        Assert.Contains("elsewhere", (await _cli.RunAsync("experiments", "list", "--tracking-uri", other.Path)).Ok().Out);
        _cli.SetEnvironment("MLFLOW_TRACKING_URI", other.Path);
        Assert.Contains("elsewhere", (await _cli.RunAsync("experiments", "list")).Ok().Out);
    }

    [Fact]
    public async Task Unreachable_server_exits_unavailable_with_one_line()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        // Connection refused is retried with backoff (about 3 s in all) before giving up.
        var line = (await _cli.RunAsync("experiments", "list", "--tracking-uri", $"http://127.0.0.1:{port}")).FailedWith(ExitCodes.Unavailable);
        Assert.Contains($"127.0.0.1:{port}", line);
    }
}
