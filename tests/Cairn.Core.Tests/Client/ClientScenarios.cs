using Cairn.Client;
using Cairn.Tracking;

namespace Cairn.Tests.Client;

/// <summary>
/// What a CairnClient user sees, run once per transport: a folder opened in-process (Cairn.Core.Tests)
/// and a real server over HTTP (Cairn.Server.Tests links this file). Both must behave the same.
/// </summary>
public abstract class ClientScenarios : IAsyncLifetime
{
    protected CairnClient Client { get; private set; } = null!; // set in InitializeAsync, before any test runs

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Opens a client on a fresh, empty tracking store.</summary>
    protected abstract Task<CairnClient> OpenClientAsync();

    public virtual async ValueTask InitializeAsync() => Client = await OpenClientAsync();

    public virtual ValueTask DisposeAsync()
    {
        Client.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Disposed_run_is_finished_with_system_tags()
    {
        string runId;
        using (var run = Client.StartRun("scenarios", runName: "baseline", tags: new Dictionary<string, string> { ["team"] = "ml" }))
        {
            runId = run.RunId;
            run.LogParam("lr", 0.01);
            run.SetTag("phase", "train");
            run.LogMetric("loss", 0.5, step: 1);
        }
        var stored = await Client.Store.GetRunAsync(runId, Ct);
        Assert.Equal(RunStatus.FINISHED, stored.Info.Status);
        Assert.NotNull(stored.Info.EndTime);
        Assert.Equal("baseline", stored.Info.RunName);
        var tags = stored.Data.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(Environment.UserName, tags[SystemTags.User]);
        Assert.Equal("LOCAL", tags[SystemTags.SourceType]);
        Assert.False(string.IsNullOrEmpty(tags[SystemTags.SourceName]));
        Assert.Equal("ml", tags["team"]);
        Assert.Equal("train", tags["phase"]);
        Assert.DoesNotContain(SystemTags.ParentRunId, tags.Keys);
        Assert.Equal("0.01", stored.Data.Params.Single(p => p.Key == "lr").Value);
        Assert.Equal(0.5, stored.Data.Metrics.Single(m => m.Key == "loss").Value);
        Assert.Equal(Environment.UserName, stored.Info.UserId);
    }

    [Fact]
    public async Task StartRun_creates_the_experiment_once_and_reuses_it()
    {
        Assert.Null(await Client.Store.FindExperimentByNameAsync("fresh-experiment", Ct));
        string first, second;
        using (var run = Client.StartRun("fresh-experiment")) first = run.ExperimentId;
        using (var run = Client.StartRun("fresh-experiment")) second = run.ExperimentId;
        Assert.Equal(first, second);
        Assert.Equal("fresh-experiment", (await Client.Store.GetExperimentAsync(first, Ct)).Name);
    }

    [Fact]
    public async Task Exception_leaving_a_using_block_ends_the_run_failed()
    {
        string? runId = null;
        void Train()
        {
            using var run = Client.StartRun("scenarios");
            runId = run.RunId;
            run.LogMetric("loss", 1);
            throw new InvalidOperationException("training diverged");
        }
        var thrown = Assert.Throws<InvalidOperationException>(Train);
        Assert.Equal("training diverged", thrown.Message);
        var stored = await Client.Store.GetRunAsync(runId!, Ct);
        Assert.Equal(RunStatus.FAILED, stored.Info.Status);
        Assert.Equal(1, stored.Data.Metrics.Single().Value);
    }

    [Fact]
    public async Task Exception_caught_inside_the_using_block_still_ends_finished()
    {
        string runId;
        using (var run = Client.StartRun("scenarios"))
        {
            runId = run.RunId;
            try
            {
                throw new InvalidOperationException("handled");
            }
            catch (InvalidOperationException)
            {
                run.SetTag("recovered", "yes");
            }
        }
        Assert.Equal(RunStatus.FINISHED, (await Client.Store.GetRunAsync(runId, Ct)).Info.Status);
    }

    [Fact]
    public async Task RunAsync_ends_failed_when_the_body_throws_and_finished_when_it_returns()
    {
        string? failedId = null, finishedId = null;
        await Assert.ThrowsAsync<TimeoutException>(() => Client.RunAsync("scenarios", async run =>
        {
            failedId = run.RunId;
            await Task.Yield();
            throw new TimeoutException("data source timed out");
        }, cancellationToken: Ct));
        await Client.RunAsync("scenarios", async run =>
        {
            finishedId = run.RunId;
            run.LogMetric("acc", 0.9);
            await Task.Yield();
        }, cancellationToken: Ct);
        Assert.Equal(RunStatus.FAILED, (await Client.Store.GetRunAsync(failedId!, Ct)).Info.Status);
        var finished = await Client.Store.GetRunAsync(finishedId!, Ct);
        Assert.Equal(RunStatus.FINISHED, finished.Info.Status);
        Assert.Equal(0.9, finished.Data.Metrics.Single().Value);
    }

    [Fact]
    public async Task Fail_then_await_using_ends_the_run_failed()
    {
        string runId;
        await using (var run = await Client.StartRunAsync("scenarios", cancellationToken: Ct))
        {
            runId = run.RunId;
            run.Fail();
        }
        Assert.Equal(RunStatus.FAILED, (await Client.Store.GetRunAsync(runId, Ct)).Info.Status);
    }

    [Fact]
    public async Task Nested_run_points_at_its_parent()
    {
        string parentId, childId;
        using (var parent = Client.StartRun("scenarios", runName: "sweep"))
        {
            parentId = parent.RunId;
            using var child = Client.StartRun("scenarios", runName: "trial-1", parentRunId: parent.RunId);
            childId = child.RunId;
            child.LogMetric("acc", 0.7);
        }
        var stored = await Client.Store.GetRunAsync(childId, Ct);
        Assert.Equal(parentId, stored.Data.Tags.Single(t => t.Key == SystemTags.ParentRunId).Value);
        Assert.Equal(RunStatus.FINISHED, stored.Info.Status);
        var children = await Client.Store.SearchRunsAsync(new RunSearch([stored.Info.ExperimentId], $"tags.mlflow.parentRunId = '{parentId}'"), Ct);
        Assert.Equal(childId, Assert.Single(children.Items).Info.RunId);
    }

    [Fact]
    public async Task Nested_run_with_an_unknown_parent_is_refused()
    {
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() =>
            Client.StartRunAsync("scenarios", parentRunId: "0123456789abcdef0123456789abcdef", cancellationToken: Ct));
    }

    [Fact]
    public async Task Fifty_thousand_queued_metrics_are_all_written_by_dispose()
    {
        const int count = 50_000;
        string runId;
        using (var run = Client.StartRun("scenarios"))
        {
            runId = run.RunId;
            for (var i = 0; i < count; i++) run.LogMetric("loss", 1.0 / (i + 1), step: i);
        }
        var history = await Client.Store.GetFullMetricHistoryAsync(runId, "loss", Ct);
        Assert.Equal(count, history.Count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), history.Select(m => m.Step));
        Assert.Equal(1.0 / count, history[^1].Value);
        var stored = await Client.Store.GetRunAsync(runId, Ct);
        Assert.Equal(count - 1, stored.Data.Metrics.Single().Step);
    }

    [Fact]
    public async Task Many_params_and_tags_are_split_within_mlflow_limits()
    {
        string runId;
        using (var run = Client.StartRun("scenarios"))
        {
            runId = run.RunId;
            for (var i = 0; i < 350; i++) run.LogParam($"p{i}", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            for (var i = 0; i < 250; i++) run.SetTag($"t{i}", "x");
            for (var i = 0; i < 2500; i++) run.LogMetric($"m{i % 3}", i, step: i);
        }
        var stored = await Client.Store.GetRunAsync(runId, Ct);
        Assert.Equal(350, stored.Data.Params.Count);
        Assert.Equal(250, stored.Data.Tags.Count(t => t.Key.StartsWith('t')));
        Assert.Equal(3, stored.Data.Metrics.Count);
    }

    [Fact]
    public async Task Changing_a_param_surfaces_from_the_next_flush_and_keeps_the_rest_of_the_batch()
    {
        using var run = Client.StartRun("scenarios");
        run.LogParam("model", "rf");
        run.LogMetric("acc", 0.8, step: 0);
        run.LogParam("model", "gbt"); // same key, new value: the store must see "rf" first and refuse "gbt"
        run.LogMetric("acc", 0.9, step: 1);
        run.SetTag("after", "yes");
        var error = Assert.Throws<InvalidParameterValueException>(run.Flush);
        Assert.Contains("Changing param values is not allowed", error.Message);
        run.Flush(); // thrown once: the run carries on
        var stored = await Client.Store.GetRunAsync(run.RunId, Ct);
        Assert.Equal("rf", stored.Data.Params.Single(p => p.Key == "model").Value);
        Assert.Equal(2, (await Client.Store.GetFullMetricHistoryAsync(run.RunId, "acc", Ct)).Count);
        Assert.Equal("yes", stored.Data.Tags.Single(t => t.Key == "after").Value);
    }

    [Fact]
    public async Task Background_write_error_surfaces_from_the_next_log_call()
    {
        using var run = Client.StartRun("scenarios");
        run.LogParam("seed", "1");
        await run.FlushAsync(Ct);
        run.LogParam("seed", "2");
        // No explicit flush: wait for the background writer, then the next Log call throws its error.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        InvalidParameterValueException? error = null;
        while (error is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
            error = Record.Exception(() => run.LogMetric("tick", 1)) as InvalidParameterValueException;
        }
        Assert.NotNull(error);
        Assert.Contains("seed", error.Message);
    }

    [Fact]
    public async Task Write_error_surfaces_from_dispose()
    {
        var run = Client.StartRun("scenarios");
        await Client.Store.DeleteRunAsync(run.RunId, Ct);
        run.LogMetric("loss", 1);
        var error = Assert.ThrowsAny<CairnException>(run.Dispose);
        Assert.Contains("active", error.Message);
        Assert.True(run.IsEnded);
        Assert.Throws<ObjectDisposedException>(() => run.LogMetric("loss", 2));
    }

    [Fact]
    public void Invalid_metric_key_is_refused_by_the_log_call_itself()
    {
        using var run = Client.StartRun("scenarios");
        Assert.Throws<InvalidParameterValueException>(() => run.LogMetric("", 1));
        Assert.Throws<InvalidParameterValueException>(() => run.LogParam("k", new string('x', TrackingLimits.MaxParamValueLength + 1)));
    }

    [Fact]
    public async Task Logged_inputs_are_stored_in_order_with_other_data()
    {
        string runId;
        using (var run = Client.StartRun("scenarios"))
        {
            runId = run.RunId;
            run.LogParam("rows", "1000");
            run.LogInput(new Dataset("train", "abc123", "local", "{\"uri\":\"data/train.csv\"}"), context: "training");
            run.LogMetric("acc", 0.5);
        }
        var stored = await Client.Store.GetRunAsync(runId, Ct);
        var input = Assert.Single(stored.Inputs);
        Assert.Equal("train", input.Dataset.Name);
        Assert.Equal("training", input.Tags.Single(t => t.Key == "mlflow.data.context").Value);
        Assert.Single(stored.Data.Params);
        Assert.Single(stored.Data.Metrics);
    }

    [Fact]
    public async Task Process_exit_hook_writes_the_queue_and_ends_an_open_run()
    {
        var run = Client.StartRun("scenarios");
        Assert.Contains(run, RunExitHooks.Open);
        run.LogMetric("loss", 0.25);
        run.EndFromExitHook(RunStatus.KILLED, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(run, RunExitHooks.Open);
        var stored = await Client.Store.GetRunAsync(run.RunId, Ct);
        Assert.Equal(RunStatus.KILLED, stored.Info.Status);
        Assert.Equal(0.25, stored.Data.Metrics.Single().Value);
        run.Dispose(); // already ended: nothing more happens
        Assert.Equal(RunStatus.KILLED, (await Client.Store.GetRunAsync(run.RunId, Ct)).Info.Status);
    }

    [Fact]
    public async Task Search_pages_through_every_run()
    {
        string experimentId;
        using (var first = Client.StartRun("paged")) experimentId = first.ExperimentId;
        for (var i = 1; i < 7; i++) using (Client.StartRun("paged")) { }
        var runs = new List<Run>();
        await foreach (var run in Client.Store.SearchAllRunsAsync(new RunSearch([experimentId], MaxResults: 2), Ct)) runs.Add(run);
        Assert.Equal(7, runs.Count);
        Assert.Equal(7, runs.Select(r => r.Info.RunId).Distinct().Count());
    }
}
