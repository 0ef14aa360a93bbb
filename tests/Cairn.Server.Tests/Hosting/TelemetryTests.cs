using System.Globalization;
using System.Text.RegularExpressions;

namespace Cairn.Tests.Hosting;

public sealed class TelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Metrics_after_requests_show_writer_store_and_http_instruments_with_their_counts()
    {
        await using var server = await RunningServer.StartAsync();
        const int experiments = 7;
        for (var i = 0; i < experiments; i++) await server.CreateExperimentAsync("metrics-" + i);
        var (status, _) = await server.GetAsync("runs/get?run_id=" + new string('0', 32));
        Assert.Equal(404, status);

        var text = await server.Http.GetStringAsync("metrics", Ct);

        // Every create went through the SQLite writer: one commit per group, at least one write per group.
        Assert.True(Sum(text, "cairn_sqlite_writer_batch_size_sum") >= experiments, text);
        Assert.True(Sum(text, "cairn_sqlite_writer_commit_duration_seconds_count") >= 1, text);
        Assert.Matches(new Regex(@"^cairn_sqlite_writer_queue_depth\b.* \d+", RegexOptions.Multiline), text);
        // The store proxy timed each call by name, and the failed lookup carries MLflow's error code.
        Assert.True(Sum(text, "cairn_store_operation_duration_seconds_count", "cairn_store_operation=\"CreateExperiment\"") >= experiments, text);
        Assert.True(Sum(text, "cairn_store_operation_duration_seconds_count", "error_type=\"RESOURCE_DOES_NOT_EXIST\"") >= 1, text);
        // ASP.NET Core's request meter, by route and status.
        Assert.True(Sum(text, "http_server_request_duration_seconds_count", "http_route=\"/api/2.0/mlflow/experiments/create\"", "http_response_status_code=\"200\"") >= experiments, text);
        Assert.True(Sum(text, "http_server_request_duration_seconds_count", "http_route=\"/api/2.0/mlflow/runs/get\"", "http_response_status_code=\"404\"") >= 1, text);
    }

    /// <summary>The sum of the samples of <paramref name="metric"/> whose labels contain all of <paramref name="labels"/>.</summary>
    private static double Sum(string exposition, string metric, params string[] labels) =>
        exposition.Split('\n')
            .Where(line => line.StartsWith(metric, StringComparison.Ordinal) && (line.Length > metric.Length && line[metric.Length] is '{' or ' '))
            .Where(line => labels.All(l => line.Contains(l, StringComparison.Ordinal)))
            .Sum(line => double.Parse(line[(line.LastIndexOf('}') is var brace and >= 0 ? brace + 1 : metric.Length)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));
}
