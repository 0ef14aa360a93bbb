using Cairn.Storage;
using Cairn.Tracking;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Cairn.Tests.Storage;

/// <summary>
/// The MLflow semantics every <see cref="ITrackingStore"/> backend must show. One sealed subclass per
/// backend supplies a fresh, empty store per call of <see cref="CreateStoreAsync"/>.
/// </summary>
public abstract class TrackingStoreContract : IAsyncDisposable
{
    /// <summary>A new, empty store (only the Default experiment) of the backend under test, writing times from <see cref="Time"/>.</summary>
    protected abstract Task<ITrackingStore> CreateStoreAsync();

    /// <summary>The stores' clock: tests move it instead of sleeping to separate timestamps.</summary>
    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string UnknownRunId = "0123456789abcdef0123456789abcdef";

    // ---- helpers -------------------------------------------------------------------------

    private static Task<string> NewExperimentAsync(ITrackingStore store, string? name = null, IReadOnlyList<ExperimentTag>? tags = null) =>
        store.CreateExperimentAsync(name ?? "exp-" + Guid.NewGuid().ToString("N")[..8], tags: tags, cancellationToken: Ct);

    private static async Task<string> NewRunAsync(ITrackingStore store, string experimentId, string? name = null, long? startTime = null, IReadOnlyList<RunTag>? tags = null) =>
        (await store.CreateRunAsync(new CreateRunRequest(experimentId, name, startTime, "tester", tags), Ct)).Info.RunId;

    /// <summary>Walks every page; fails on a loop instead of hanging.</summary>
    private static async Task<List<Run>> SearchAllRunsAsync(ITrackingStore store, RunSearch search)
    {
        var all = new List<Run>();
        string? token = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 1000, "paging did not terminate");
            var page = await store.SearchRunsAsync(search with { PageToken = token }, Ct);
            Assert.True(page.Items.Count <= search.MaxResults);
            all.AddRange(page.Items);
            token = page.NextPageToken;
            if (token is null) return all;
            Assert.Equal(search.MaxResults, page.Items.Count);
        }
    }

    private static async Task<List<Experiment>> SearchAllExperimentsAsync(ITrackingStore store, ExperimentSearch search)
    {
        var all = new List<Experiment>();
        string? token = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 1000, "paging did not terminate");
            var page = await store.SearchExperimentsAsync(search with { PageToken = token }, Ct);
            all.AddRange(page.Items);
            token = page.NextPageToken;
            if (token is null) return all;
            Assert.Equal(search.MaxResults, page.Items.Count);
        }
    }

    /// <summary>Run names in search order.</summary>
    private static async Task<string[]> RunNamesAsync(ITrackingStore store, string experimentId, string? filter, params string[] orderBy) =>
        (await store.SearchRunsAsync(new RunSearch([experimentId], filter, OrderBy: orderBy.Length == 0 ? null : orderBy), Ct)).Items
            .Select(r => r.Info.RunName).ToArray();

    /// <summary>Run names, sorted, for filters whose order does not matter.</summary>
    private static async Task<string[]> MatchingAsync(ITrackingStore store, string experimentId, string filter) =>
        (await RunNamesAsync(store, experimentId, filter)).Order(StringComparer.Ordinal).ToArray();

    private static async Task<string[]> ExperimentNamesAsync(ITrackingStore store, string? filter, ViewType viewType = ViewType.ACTIVE_ONLY, params string[] orderBy) =>
        (await store.SearchExperimentsAsync(new ExperimentSearch(filter, viewType, OrderBy: orderBy.Length == 0 ? null : orderBy), Ct)).Items
            .Select(e => e.Name).ToArray();

    /// <summary>
    /// Six runs covering every entity type, with gaps: r4 has no acc and no team, r5 has no model and no team.
    /// start_time is 1000 * n, so the default order is r6..r1.
    /// </summary>
    private static async Task<(string ExperimentId, Dictionary<string, string> Ids)> SeedSearchRunsAsync(ITrackingStore store)
    {
        var experimentId = await NewExperimentAsync(store, "search");
        var ids = new Dictionary<string, string>();
        (string Name, string? Model, double? Acc, string? Team, RunStatus Status)[] rows =
        [
            ("r1", "rf", 0.9, "ml", RunStatus.FINISHED),
            ("r2", "gbt", 0.8, "ML", RunStatus.FINISHED),
            ("r3", "rf", 0.5, "data", RunStatus.FAILED),
            ("r4", "lr", null, null, RunStatus.RUNNING),
            ("r5", null, 0.95, null, RunStatus.KILLED),
            ("r6", "gbt", -1.5e-3, "Ml", RunStatus.RUNNING),
        ];
        for (var i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            var id = await NewRunAsync(store, experimentId, row.Name, startTime: 1000L * (i + 1));
            ids[row.Name] = id;
            await store.LogBatchAsync(id,
                row.Acc is { } acc ? [new Metric("acc", acc, 10, 0)] : [],
                row.Model is { } model ? [new Param("model", model)] : [],
                row.Team is { } team ? [new RunTag("team", team)] : [],
                Ct);
            if (row.Status != RunStatus.RUNNING)
                await store.UpdateRunAsync(id, row.Status, endTime: 1000L * (i + 1) + 500, cancellationToken: Ct);
        }
        return (experimentId, ids);
    }

    // ---- experiments ---------------------------------------------------------------------

    [Fact]
    public async Task Default_experiment_0_exists_and_cannot_be_deleted()
    {
        using var store = await CreateStoreAsync();
        var def = await store.GetExperimentAsync("0", Ct);
        Assert.Equal("Default", def.Name);
        Assert.Equal(LifecycleStage.Active, def.LifecycleStage);
        Assert.Equal("0", (await store.GetExperimentByNameAsync("Default", Ct)).ExperimentId);

        var ex = await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.DeleteExperimentAsync("0", Ct));
        Assert.Contains("default experiment", ex.Message);
        Assert.Equal(LifecycleStage.Active, (await store.GetExperimentAsync("0", Ct)).LifecycleStage);

        var run = await NewRunAsync(store, "0", "in-default");
        Assert.Equal("0", (await store.GetRunAsync(run, Ct)).Info.ExperimentId);
    }

    [Fact]
    public async Task Created_experiment_round_trips_by_id_and_by_name()
    {
        using var store = await CreateStoreAsync();
        var before = Time.GetUtcNow().ToUnixTimeMilliseconds();
        var id = await store.CreateExperimentAsync("fraud model", tags: [new ExperimentTag("team", "risk"), new ExperimentTag("mlflow.note.content", "notes")], cancellationToken: Ct);
        var custom = await store.CreateExperimentAsync("custom-location", "s3://bucket/custom", cancellationToken: Ct);
        Assert.NotEqual(id, custom);

        var got = await store.GetExperimentAsync(id, Ct);
        Assert.Equal(id, got.ExperimentId);
        Assert.Equal("fraud model", got.Name);
        Assert.Equal(LifecycleStage.Active, got.LifecycleStage);
        Assert.EndsWith("/" + id, got.ArtifactLocation);
        Assert.InRange(got.CreationTime!.Value, before, Time.GetUtcNow().ToUnixTimeMilliseconds());
        Assert.Equal([new ExperimentTag("mlflow.note.content", "notes"), new ExperimentTag("team", "risk")], got.Tags.OrderBy(t => t.Key, StringComparer.Ordinal));

        Assert.Equal("s3://bucket/custom", (await store.GetExperimentAsync(custom, Ct)).ArtifactLocation);
        Assert.Equal(id, (await store.FindExperimentByNameAsync("fraud model", Ct))?.ExperimentId);
        Assert.Equal(id, (await store.GetExperimentByNameAsync("fraud model", Ct)).ExperimentId);
        Assert.Equal(id, await store.GetOrCreateExperimentAsync("fraud model", Ct));
    }

    [Fact]
    public async Task Unknown_experiment_does_not_exist()
    {
        using var store = await CreateStoreAsync();
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetExperimentAsync("987654", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetExperimentAsync("not-a-number", Ct));
        Assert.Null(await store.FindExperimentByNameAsync("nope", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetExperimentByNameAsync("nope", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.DeleteExperimentAsync("987654", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.RenameExperimentAsync("987654", "x", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.CreateRunAsync(new CreateRunRequest("987654"), Ct));
    }

    [Fact]
    public async Task Duplicate_experiment_name_is_refused_even_when_deleted()
    {
        using var store = await CreateStoreAsync();
        var id = await NewExperimentAsync(store, "dup");
        var ex = await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() => store.CreateExperimentAsync("dup", cancellationToken: Ct));
        Assert.Equal(ErrorCode.RESOURCE_ALREADY_EXISTS, ex.ErrorCode);
        await store.DeleteExperimentAsync(id, Ct);
        await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() => store.CreateExperimentAsync("dup", cancellationToken: Ct));
    }

    [Fact]
    public async Task Rename_experiment_changes_its_name_and_refuses_a_taken_one()
    {
        using var store = await CreateStoreAsync();
        var a = await NewExperimentAsync(store, "alpha");
        await NewExperimentAsync(store, "beta");

        await store.RenameExperimentAsync(a, "gamma", Ct);
        Assert.Equal("gamma", (await store.GetExperimentAsync(a, Ct)).Name);
        Assert.Null(await store.FindExperimentByNameAsync("alpha", Ct));
        Assert.Equal(a, (await store.GetExperimentByNameAsync("gamma", Ct)).ExperimentId);

        await Assert.ThrowsAsync<ResourceAlreadyExistsException>(() => store.RenameExperimentAsync(a, "beta", Ct));
        Assert.Equal("gamma", (await store.GetExperimentAsync(a, Ct)).Name);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.RenameExperimentAsync(a, "  ", Ct));
    }

    [Fact]
    public async Task Renaming_a_deleted_experiment_is_an_invalid_state()
    {
        using var store = await CreateStoreAsync();
        var id = await NewExperimentAsync(store, "old");
        await store.DeleteExperimentAsync(id, Ct);
        // MLflow: "Cannot rename a non-active experiment.", INVALID_STATE.
        var ex = await Assert.ThrowsAnyAsync<CairnException>(() => store.RenameExperimentAsync(id, "new", Ct));
        Assert.Equal(ErrorCode.INVALID_STATE, ex.ErrorCode);
        Assert.Equal("old", (await store.GetExperimentAsync(id, Ct)).Name);
    }

    [Fact]
    public async Task Deleting_and_restoring_an_experiment_moves_its_runs_with_it()
    {
        using var store = await CreateStoreAsync();
        var id = await NewExperimentAsync(store, "lifecycle");
        var r1 = await NewRunAsync(store, id, "a");
        var r2 = await NewRunAsync(store, id, "b");

        await store.DeleteExperimentAsync(id, Ct);
        Assert.Equal(LifecycleStage.Deleted, (await store.GetExperimentAsync(id, Ct)).LifecycleStage);
        Assert.Equal(LifecycleStage.Deleted, (await store.GetRunAsync(r1, Ct)).Info.LifecycleStage);
        Assert.Equal(LifecycleStage.Deleted, (await store.GetRunAsync(r2, Ct)).Info.LifecycleStage);
        Assert.Empty((await store.SearchRunsAsync(new RunSearch([id]), Ct)).Items);
        Assert.Equal(2, (await store.SearchRunsAsync(new RunSearch([id], ViewType: ViewType.DELETED_ONLY), Ct)).Items.Count);
        Assert.DoesNotContain("lifecycle", await ExperimentNamesAsync(store, null));
        Assert.Contains("lifecycle", await ExperimentNamesAsync(store, null, ViewType.DELETED_ONLY));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.DeleteExperimentAsync(id, Ct));

        await store.RestoreExperimentAsync(id, Ct);
        Assert.Equal(LifecycleStage.Active, (await store.GetExperimentAsync(id, Ct)).LifecycleStage);
        Assert.Equal(LifecycleStage.Active, (await store.GetRunAsync(r1, Ct)).Info.LifecycleStage);
        Assert.Equal(2, (await store.SearchRunsAsync(new RunSearch([id]), Ct)).Items.Count);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.RestoreExperimentAsync(id, Ct));
    }

    [Fact]
    public async Task Creating_a_run_in_a_deleted_experiment_is_refused()
    {
        using var store = await CreateStoreAsync();
        var id = await NewExperimentAsync(store);
        await store.DeleteExperimentAsync(id, Ct);
        // MLflow's _check_experiment_is_active: "must be in the 'active' state", INVALID_PARAMETER_VALUE.
        var ex = await Assert.ThrowsAnyAsync<CairnException>(() => store.CreateRunAsync(new CreateRunRequest(id), Ct));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, ex.ErrorCode);
        Assert.Empty((await store.SearchRunsAsync(new RunSearch([id], ViewType: ViewType.ALL), Ct)).Items);
    }

    [Fact]
    public async Task Experiment_tags_set_overwrite_and_delete()
    {
        using var store = await CreateStoreAsync();
        var id = await NewExperimentAsync(store, tags: [new ExperimentTag("a", "1")]);
        await store.SetExperimentTagAsync(id, "b", "2", Ct);
        await store.SetExperimentTagAsync(id, "a", "overwritten", Ct);
        Assert.Equal([new ExperimentTag("a", "overwritten"), new ExperimentTag("b", "2")], (await store.GetExperimentAsync(id, Ct)).Tags.OrderBy(t => t.Key, StringComparer.Ordinal));

        await store.DeleteExperimentTagAsync(id, "a", Ct);
        Assert.Equal([new ExperimentTag("b", "2")], (await store.GetExperimentAsync(id, Ct)).Tags);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.DeleteExperimentTagAsync(id, "a", Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SetExperimentTagAsync(id, "bad//key", "v", Ct));

        await store.DeleteExperimentAsync(id, Ct);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SetExperimentTagAsync(id, "c", "3", Ct));
    }

    [Fact]
    public async Task Search_experiments_filters_by_name_tags_and_creation_time()
    {
        using var store = await CreateStoreAsync();
        await NewExperimentAsync(store, "Exp-Alpha", [new ExperimentTag("team", "ml")]);
        await NewExperimentAsync(store, "exp-beta", [new ExperimentTag("team", "ML")]);
        Time.Advance(TimeSpan.FromMilliseconds(20));
        var gammaId = await NewExperimentAsync(store, "exp-gamma", [new ExperimentTag("team", "data")]);
        await NewExperimentAsync(store, "other");
        var gammaCreated = (await store.GetExperimentAsync(gammaId, Ct)).CreationTime!.Value;

        string[] Sorted(string[] names) => names.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["exp-beta", "exp-gamma"], Sorted(await ExperimentNamesAsync(store, "name LIKE 'exp-%'")));
        Assert.Equal(["Exp-Alpha", "exp-beta", "exp-gamma"], Sorted(await ExperimentNamesAsync(store, "name ILIKE 'EXP-%'")));
        Assert.Equal(["exp-beta"], await ExperimentNamesAsync(store, "attributes.name = 'exp-beta'"));
        Assert.Equal(["Default", "Exp-Alpha", "exp-beta", "exp-gamma"], Sorted(await ExperimentNamesAsync(store, "name != 'other'")));
        Assert.Equal(["Exp-Alpha"], await ExperimentNamesAsync(store, "tags.team = 'ml'"));
        Assert.Equal(["Exp-Alpha", "exp-beta"], Sorted(await ExperimentNamesAsync(store, "tags.team ILIKE 'm%'")));
        // != on a tag excludes experiments without the tag, as for runs.
        Assert.Equal(["Exp-Alpha", "exp-beta"], Sorted(await ExperimentNamesAsync(store, "tags.team != 'data'")));
        Assert.Equal(["exp-gamma", "other"], Sorted(await ExperimentNamesAsync(store, $"creation_time >= {gammaCreated} AND name != 'Default'")));
        Assert.Equal(["Exp-Alpha", "exp-gamma"], Sorted(await ExperimentNamesAsync(store, "tags.team = 'data' OR (name LIKE 'Exp%' AND tags.team = 'ml')")));
        Assert.Empty(await ExperimentNamesAsync(store, "name = 'missing'"));
    }

    [Fact]
    public async Task Search_experiments_orders_by_name_and_creation_time()
    {
        using var store = await CreateStoreAsync();
        foreach (var name in (string[])["b-second", "c-third", "a-first"])
        {
            await NewExperimentAsync(store, name);
            Time.Advance(TimeSpan.FromMilliseconds(5));
        }
        Assert.Equal(["a-first", "b-second", "c-third"], await ExperimentNamesAsync(store, "name LIKE '%-%'", ViewType.ACTIVE_ONLY, "name"));
        Assert.Equal(["c-third", "b-second", "a-first"], await ExperimentNamesAsync(store, "name LIKE '%-%'", ViewType.ACTIVE_ONLY, "name DESC"));
        Assert.Equal(["b-second", "c-third", "a-first"], await ExperimentNamesAsync(store, "name LIKE '%-%'", ViewType.ACTIVE_ONLY, "creation_time ASC"));
        // MLflow's default order is newest first.
        Assert.Equal(["a-first", "c-third", "b-second"], await ExperimentNamesAsync(store, "name LIKE '%-%'"));
    }

    [Fact]
    public async Task Search_experiments_honours_view_type()
    {
        using var store = await CreateStoreAsync();
        await NewExperimentAsync(store, "v-live");
        var gone = await NewExperimentAsync(store, "v-gone");
        await store.DeleteExperimentAsync(gone, Ct);
        Assert.Equal(["v-live"], await ExperimentNamesAsync(store, "name LIKE 'v-%'"));
        Assert.Equal(["v-gone"], await ExperimentNamesAsync(store, "name LIKE 'v-%'", ViewType.DELETED_ONLY));
        Assert.Equal(["v-gone", "v-live"], await ExperimentNamesAsync(store, "name LIKE 'v-%'", ViewType.ALL, "name"));
    }

    [Fact]
    public async Task Search_experiments_pages_without_duplicates_or_gaps()
    {
        using var store = await CreateStoreAsync();
        var expected = new List<string>();
        for (var i = 0; i < 23; i++)
        {
            var name = $"page-{i:D2}";
            await NewExperimentAsync(store, name);
            expected.Add(name);
        }
        var byName = await SearchAllExperimentsAsync(store, new ExperimentSearch("name LIKE 'page-%'", MaxResults: 5, OrderBy: ["name"]));
        Assert.Equal(expected, byName.Select(e => e.Name));

        // The default order has many creation_time ties; the id tiebreak must keep pages disjoint.
        var byDefault = await SearchAllExperimentsAsync(store, new ExperimentSearch("name LIKE 'page-%'", MaxResults: 4));
        Assert.Equal(23, byDefault.Count);
        Assert.Equal(expected, byDefault.Select(e => e.Name).Order(StringComparer.Ordinal));
        var single = await store.SearchExperimentsAsync(new ExperimentSearch("name LIKE 'page-%'"), Ct);
        Assert.Equal(single.Items.Select(e => e.ExperimentId), byDefault.Select(e => e.ExperimentId));
        Assert.Null(single.NextPageToken);
    }

    [Fact]
    public async Task Experiment_page_token_replayed_with_another_query_is_refused()
    {
        using var store = await CreateStoreAsync();
        for (var i = 0; i < 4; i++) await NewExperimentAsync(store, $"tok-{i}");
        var first = await store.SearchExperimentsAsync(new ExperimentSearch("name LIKE 'tok-%'", MaxResults: 2), Ct);
        Assert.NotNull(first.NextPageToken);

        var ex = await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.SearchExperimentsAsync(new ExperimentSearch("name LIKE 'tok-1%'", MaxResults: 2, PageToken: first.NextPageToken), Ct));
        Assert.Contains("page_token", ex.Message);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.SearchExperimentsAsync(new ExperimentSearch("name LIKE 'tok-%'", MaxResults: 2, OrderBy: ["name"], PageToken: first.NextPageToken), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.SearchExperimentsAsync(new ExperimentSearch("name LIKE 'tok-%'", MaxResults: 2, PageToken: "not a token"), Ct));

        var second = await store.SearchExperimentsAsync(new ExperimentSearch("name LIKE 'tok-%'", MaxResults: 2, PageToken: first.NextPageToken), Ct);
        Assert.Equal(2, second.Items.Count);
        Assert.Empty(first.Items.Select(e => e.ExperimentId).Intersect(second.Items.Select(e => e.ExperimentId)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(50001)]
    public async Task Search_max_results_out_of_bounds_is_refused(int maxResults)
    {
        using var store = await CreateStoreAsync();
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SearchExperimentsAsync(new ExperimentSearch(MaxResults: maxResults), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SearchRunsAsync(new RunSearch(["0"], MaxResults: maxResults), Ct));
    }

    [Fact]
    public async Task Search_max_results_at_the_threshold_is_accepted()
    {
        using var store = await CreateStoreAsync();
        await NewRunAsync(store, "0", "only");
        Assert.Single((await store.SearchRunsAsync(new RunSearch(["0"], MaxResults: 50000), Ct)).Items);
        Assert.Single((await store.SearchExperimentsAsync(new ExperimentSearch(MaxResults: 50000), Ct)).Items);
        var one = await store.SearchRunsAsync(new RunSearch(["0"], MaxResults: 1), Ct);
        Assert.Single(one.Items);
        Assert.Null(one.NextPageToken);
    }

    // ---- runs: lifecycle -----------------------------------------------------------------

    [Fact]
    public async Task Created_run_carries_its_name_in_the_runName_tag()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var run = await store.CreateRunAsync(new CreateRunRequest(exp, "my-run", 1234, "alice", [new RunTag("k", "v")]), Ct);
        Assert.Equal("my-run", run.Info.RunName);
        Assert.Equal(exp, run.Info.ExperimentId);
        Assert.Equal("alice", run.Info.UserId);
        Assert.Equal(RunStatus.RUNNING, run.Info.Status);
        Assert.Equal(1234, run.Info.StartTime);
        Assert.Null(run.Info.EndTime);
        Assert.Equal(LifecycleStage.Active, run.Info.LifecycleStage);
        Assert.Matches("^[0-9a-f]{32}$", run.Info.RunId);
        Assert.EndsWith($"/{exp}/{run.Info.RunId}/artifacts", run.Info.ArtifactUri);
        Assert.Contains(new RunTag(SystemTags.RunName, "my-run"), run.Data.Tags);
        Assert.Contains(new RunTag("k", "v"), run.Data.Tags);
        Assert.Equal(run, await store.GetRunAsync(run.Info.RunId, Ct), RunComparer.Instance);
    }

    [Fact]
    public async Task Run_without_a_name_gets_a_generated_one()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var run = await store.CreateRunAsync(new CreateRunRequest(exp), Ct);
        Assert.Matches("^[a-z]+-[a-z]+-[0-9]{1,3}$", run.Info.RunName);
        Assert.Contains(new RunTag(SystemTags.RunName, run.Info.RunName), run.Data.Tags);
    }

    [Fact]
    public async Task Run_name_can_come_from_the_runName_tag_but_must_agree_with_it()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var fromTag = await store.CreateRunAsync(new CreateRunRequest(exp, Tags: [new RunTag(SystemTags.RunName, "tagged")]), Ct);
        Assert.Equal("tagged", fromTag.Info.RunName);
        var both = await store.CreateRunAsync(new CreateRunRequest(exp, "same", Tags: [new RunTag(SystemTags.RunName, "same")]), Ct);
        Assert.Equal("same", both.Info.RunName);
        Assert.Single(both.Data.Tags, t => t.Key == SystemTags.RunName);

        await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.CreateRunAsync(new CreateRunRequest(exp, "one", Tags: [new RunTag(SystemTags.RunName, "two")]), Ct));
        Assert.Equal(2, (await store.SearchRunsAsync(new RunSearch([exp]), Ct)).Items.Count);
    }

    [Fact]
    public async Task Unknown_run_does_not_exist()
    {
        using var store = await CreateStoreAsync();
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetRunAsync(UnknownRunId, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.UpdateRunAsync(UnknownRunId, RunStatus.FINISHED, cancellationToken: Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.DeleteRunAsync(UnknownRunId, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.LogMetricAsync(UnknownRunId, "m", 1, cancellationToken: Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetMetricHistoryAsync(UnknownRunId, "m", cancellationToken: Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.GetRunAsync("not a run id!", Ct));
    }

    [Fact]
    public async Task Update_run_sets_status_end_time_and_name()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var id = await NewRunAsync(store, exp, "before", 100);

        var info = await store.UpdateRunAsync(id, RunStatus.FINISHED, 999, cancellationToken: Ct);
        Assert.Equal(RunStatus.FINISHED, info.Status);
        Assert.Equal(999, info.EndTime);
        Assert.Equal("before", info.RunName);

        info = await store.UpdateRunAsync(id, runName: "after", cancellationToken: Ct);
        Assert.Equal(RunStatus.FINISHED, info.Status);
        Assert.Equal(999, info.EndTime);
        var run = await store.GetRunAsync(id, Ct);
        Assert.Equal("after", run.Info.RunName);
        Assert.Contains(new RunTag(SystemTags.RunName, "after"), run.Data.Tags);

        await store.UpdateRunAsync(id, RunStatus.FAILED, cancellationToken: Ct);
        Assert.Equal(RunStatus.FAILED, (await store.GetRunAsync(id, Ct)).Info.Status);
    }

    [Fact]
    public async Task Setting_the_runName_tag_renames_the_run()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var id = await NewRunAsync(store, exp, "first");
        await store.SetTagAsync(id, SystemTags.RunName, "second", Ct);
        Assert.Equal("second", (await store.GetRunAsync(id, Ct)).Info.RunName);
        Assert.Equal(["second"], await RunNamesAsync(store, exp, "attributes.run_name = 'second'"));
    }

    [Fact]
    public async Task Deleted_run_is_hidden_refuses_writes_and_can_be_restored()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var id = await NewRunAsync(store, exp, "doomed");
        await store.LogParamAsync(id, "p", "1", Ct);

        await store.DeleteRunAsync(id, Ct);
        Assert.Equal(LifecycleStage.Deleted, (await store.GetRunAsync(id, Ct)).Info.LifecycleStage);
        Assert.Empty(await RunNamesAsync(store, exp, null));
        Assert.Equal(["doomed"], (await store.SearchRunsAsync(new RunSearch([exp], ViewType: ViewType.DELETED_ONLY), Ct)).Items.Select(r => r.Info.RunName));
        Assert.Single((await store.SearchRunsAsync(new RunSearch([exp], ViewType: ViewType.ALL), Ct)).Items);

        Func<Task>[] writes =
        [
            () => store.LogMetricAsync(id, "m", 1, cancellationToken: Ct),
            () => store.LogParamAsync(id, "q", "2", Ct),
            () => store.SetTagAsync(id, "t", "v", Ct),
            () => store.LogBatchAsync(id, [new Metric("m", 1, 1, 1)], [], [], Ct),
            () => store.DeleteTagAsync(id, SystemTags.RunName, Ct),
            () => store.UpdateRunAsync(id, RunStatus.FINISHED, cancellationToken: Ct),
            () => store.LogInputsAsync(id, [new DatasetInput(new Dataset("d", "x", "local", "/d"), [])], Ct),
        ];
        foreach (var write in writes)
        {
            var ex = await Assert.ThrowsAsync<InvalidParameterValueException>(write);
            Assert.Contains("must be in the 'active' state", ex.Message);
        }
        var unchanged = await store.GetRunAsync(id, Ct);
        Assert.Empty(unchanged.Data.Metrics);
        Assert.Equal([new Param("p", "1")], unchanged.Data.Params);
        Assert.Equal(RunStatus.RUNNING, unchanged.Info.Status);

        await store.RestoreRunAsync(id, Ct);
        Assert.Equal(LifecycleStage.Active, (await store.GetRunAsync(id, Ct)).Info.LifecycleStage);
        await store.LogMetricAsync(id, "m", 1, cancellationToken: Ct);
        Assert.Equal(["doomed"], await RunNamesAsync(store, exp, null));
    }

    // ---- runs: params, metrics, tags -----------------------------------------------------

    [Fact]
    public async Task Params_are_immutable()
    {
        using var store = await CreateStoreAsync();
        var id = await NewRunAsync(store, await NewExperimentAsync(store));
        await store.LogParamAsync(id, "lr", "0.1", Ct);
        await store.LogParamAsync(id, "lr", "0.1", Ct);
        await store.LogBatchAsync(id, parameters: [new Param("lr", "0.1"), new Param("depth", "3")], cancellationToken: Ct);

        var ex = await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.LogParamAsync(id, "lr", "0.2", Ct));
        Assert.Contains("Changing param values is not allowed", ex.Message);
        Assert.Contains("'0.1'", ex.Message);
        Assert.Equal([new Param("depth", "3"), new Param("lr", "0.1")], (await store.GetRunAsync(id, Ct)).Data.Params);
    }

    [Fact]
    public async Task Metric_history_round_trips_NaN_and_infinities_exactly()
    {
        using var store = await CreateStoreAsync();
        var id = await NewRunAsync(store, await NewExperimentAsync(store));
        double[] values = [1.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.1 + 0.2, double.MaxValue, double.MinValue, double.Epsilon, -123456.789e-300];
        await store.LogBatchAsync(id, values.Select((v, i) => new Metric("v", v, 1000 + i, i)).ToList(), cancellationToken: Ct);
        await store.LogMetricAsync(id, "single", double.NaN, 5, 0, Ct);
        await store.LogMetricAsync(id, "single", double.NegativeInfinity, 6, 1, Ct);

        var history = (await store.GetMetricHistoryAsync(id, "v", cancellationToken: Ct)).Items;
        Assert.Equal(values.Length, history.Count);
        for (var i = 0; i < values.Length; i++)
        {
            Assert.Equal(i, history[i].Step);
            Assert.Equal(1000 + i, history[i].Timestamp);
            Assert.Equal("v", history[i].Key);
            // Bit-exact, so NaN, the infinities and the last digit all round-trip.
            Assert.Equal(BitConverter.DoubleToInt64Bits(values[i]), BitConverter.DoubleToInt64Bits(history[i].Value));
        }

        var run = await store.GetRunAsync(id, Ct);
        Assert.Equal(-123456.789e-300, run.Data.Metrics.Single(m => m.Key == "v").Value);
        Assert.Equal(double.NegativeInfinity, run.Data.Metrics.Single(m => m.Key == "single").Value);
        Assert.True(double.IsNaN((await store.GetMetricHistoryAsync(id, "single", cancellationToken: Ct)).Items[0].Value));

        await store.LogMetricAsync(id, "single", double.PositiveInfinity, 7, 2, Ct);
        Assert.Equal(double.PositiveInfinity, (await store.GetRunAsync(id, Ct)).Data.Metrics.Single(m => m.Key == "single").Value);
        Assert.Single(await RunNamesAsync(store, run.Info.ExperimentId, "metrics.single > 1e308"));
        await store.LogMetricAsync(id, "single", double.NaN, 8, 3, Ct);
        Assert.True(double.IsNaN((await store.GetRunAsync(id, Ct)).Data.Metrics.Single(m => m.Key == "single").Value));
        // A NaN latest value matches no numeric comparison.
        Assert.Empty(await RunNamesAsync(store, run.Info.ExperimentId, "metrics.single > 0 OR metrics.single <= 0"));
    }

    [Fact]
    public async Task Latest_metric_is_the_highest_step_then_the_latest_timestamp()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var separate = await NewRunAsync(store, exp, "separate");
        var batched = await NewRunAsync(store, exp, "batched");
        Metric[] points =
        [
            new("m", 1, 100, 5),
            new("m", 2, 999, 3),  // later timestamp, lower step: not latest
            new("m", 3, 50, 5),   // same step, earlier timestamp: not latest
        ];
        foreach (var p in points) await store.LogBatchAsync(separate, [p], cancellationToken: Ct);
        await store.LogBatchAsync(batched, points, cancellationToken: Ct);

        foreach (var id in (string[])[separate, batched])
        {
            var latest = (await store.GetRunAsync(id, Ct)).Data.Metrics.Single();
            Assert.Equal(new Metric("m", 1, 100, 5), latest);
        }

        await store.LogMetricAsync(separate, "m", 4, 200, 5, Ct);   // same step, later timestamp: latest
        Assert.Equal(4, (await store.GetRunAsync(separate, Ct)).Data.Metrics.Single().Value);
        await store.LogMetricAsync(separate, "m", 5, 5000, 4, Ct);  // lower step: not latest
        Assert.Equal(4, (await store.GetRunAsync(separate, Ct)).Data.Metrics.Single().Value);
        await store.LogMetricAsync(separate, "m", 6, 1, 6, Ct);     // higher step wins over any timestamp
        Assert.Equal(new Metric("m", 6, 1, 6), (await store.GetRunAsync(separate, Ct)).Data.Metrics.Single());
        Assert.Equal(6, (await store.GetMetricHistoryAsync(separate, "m", cancellationToken: Ct)).Items.Count);
        Assert.Equal(["separate"], await RunNamesAsync(store, exp, "metrics.m = 6"));
        Assert.Equal(["batched"], await RunNamesAsync(store, exp, "metrics.m = 1"));
    }

    [Fact]
    public async Task Metric_history_pages_in_step_order()
    {
        using var store = await CreateStoreAsync();
        var id = await NewRunAsync(store, await NewExperimentAsync(store));
        var points = Enumerable.Range(0, 250).Select(i => new Metric("loss", 1.0 / (i + 1), 10_000 - i, i)).ToList();
        foreach (var chunk in points.Chunk(90).Reverse()) await store.LogBatchAsync(id, chunk, cancellationToken: Ct);
        await store.LogMetricAsync(id, "other", 1, 1, 0, Ct);

        var seen = new List<Metric>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await store.GetMetricHistoryAsync(id, "loss", 100, token, Ct);
            seen.AddRange(page.Items);
            token = page.NextPageToken;
            pages++;
        } while (token is not null && pages < 10);
        Assert.Equal(3, pages);
        Assert.Equal(points, seen);

        var first = await store.GetMetricHistoryAsync(id, "loss", 100, cancellationToken: Ct);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.GetMetricHistoryAsync(id, "other", 100, first.NextPageToken, Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.GetMetricHistoryAsync(id, "loss", 0, cancellationToken: Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.GetMetricHistoryAsync(id, "loss", 25001, cancellationToken: Ct));
        Assert.Empty((await store.GetMetricHistoryAsync(id, "never-logged", cancellationToken: Ct)).Items);
    }

    [Fact]
    public async Task Identical_metric_points_are_stored_once()
    {
        using var store = await CreateStoreAsync();
        var id = await NewRunAsync(store, await NewExperimentAsync(store));
        var point = new Metric("m", 0.5, 100, 1);
        await store.LogBatchAsync(id, [point, point, point], cancellationToken: Ct);
        await store.LogBatchAsync(id, [point], cancellationToken: Ct);
        await store.LogBatchAsync(id, [new Metric("nan", double.NaN, 1, 1), new Metric("nan", double.NaN, 1, 1)], cancellationToken: Ct);
        await store.LogBatchAsync(id, [new Metric("nan", double.NaN, 1, 1)], cancellationToken: Ct);
        Assert.Equal([point], (await store.GetMetricHistoryAsync(id, "m", cancellationToken: Ct)).Items);
        Assert.Single((await store.GetMetricHistoryAsync(id, "nan", cancellationToken: Ct)).Items);

        // Same step and timestamp but another value is another point; NaN differs from 0.
        await store.LogBatchAsync(id, [new Metric("m", 0.75, 100, 1), new Metric("nan", 0, 1, 1)], cancellationToken: Ct);
        Assert.Equal(2, (await store.GetMetricHistoryAsync(id, "m", cancellationToken: Ct)).Items.Count);
        Assert.Equal(2, (await store.GetMetricHistoryAsync(id, "nan", cancellationToken: Ct)).Items.Count);
        Assert.Equal(0.75, (await store.GetRunAsync(id, Ct)).Data.Metrics.Single(m => m.Key == "m").Value);
    }

    [Fact]
    public async Task Tags_set_overwrite_and_delete()
    {
        using var store = await CreateStoreAsync();
        var id = await NewRunAsync(store, await NewExperimentAsync(store), "tagged");
        await store.SetTagAsync(id, "a", "1", Ct);
        await store.SetTagAsync(id, "a", "2", Ct);
        await store.LogBatchAsync(id, tags: [new RunTag("b", "first"), new RunTag("b", "last")], cancellationToken: Ct);
        await store.SetTagAsync(id, "empty", "", Ct);
        var tags = (await store.GetRunAsync(id, Ct)).Data.Tags.Where(t => t.Key != SystemTags.RunName);
        Assert.Equal([new RunTag("a", "2"), new RunTag("b", "last"), new RunTag("empty", "")], tags);

        await store.DeleteTagAsync(id, "a", Ct);
        Assert.DoesNotContain((await store.GetRunAsync(id, Ct)).Data.Tags, t => t.Key == "a");
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.DeleteTagAsync(id, "a", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.DeleteTagAsync(id, "never", Ct));
    }

    [Fact]
    public async Task Log_batch_with_one_bad_param_changes_nothing()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var id = await NewRunAsync(store, exp, "atomic");
        await store.LogParamAsync(id, "fixed", "original", Ct);
        var before = await store.GetRunAsync(id, Ct);

        var others = new List<string>();
        for (var i = 0; i < 8; i++) others.Add(await NewRunAsync(store, exp, "other" + i));

        // Run the bad batch among concurrent good writes, so a group-committing writer must roll back only it.
        var bad = store.LogBatchAsync(id,
            [new Metric("m", 1, 1, 0), new Metric("m", 2, 2, 1)],
            [new Param("new", "x"), new Param("fixed", "changed")],
            [new RunTag("t", "v")], Ct);
        var good = others.Select(o => store.LogBatchAsync(o, [new Metric("m", 1, 1, 0)], [new Param("new", "x")], [new RunTag("t", "v")], Ct)).ToList();
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => bad);
        await Task.WhenAll(good);

        var after = await store.GetRunAsync(id, Ct);
        Assert.Equal(before, after, RunComparer.Instance);
        Assert.Empty((await store.GetMetricHistoryAsync(id, "m", cancellationToken: Ct)).Items);
        foreach (var o in others)
        {
            var run = await store.GetRunAsync(o, Ct);
            Assert.Equal([new Param("new", "x")], run.Data.Params);
            Assert.Single(run.Data.Metrics);
        }
        Assert.Equal(["atomic"], await RunNamesAsync(store, exp, "params.fixed = 'original'"));
        Assert.Empty(await RunNamesAsync(store, exp, "params.new = 'x' AND params.fixed = 'original'"));
    }

    [Fact]
    public async Task Log_batch_at_the_limits_is_stored_whole()
    {
        using var store = await CreateStoreAsync();
        var id = await NewRunAsync(store, await NewExperimentAsync(store));
        var metrics = Enumerable.Range(0, 800).Select(i => new Metric("m" + (i % 10), i, i, i / 10)).ToList();
        var parameters = Enumerable.Range(0, 100).Select(i => new Param("p" + i, new string('v', 6000))).ToList();
        var tags = Enumerable.Range(0, 100).Select(i => new RunTag("t" + i, new string('t', 8000))).ToList();
        await store.LogBatchAsync(id, metrics, parameters, tags, Ct);
        var run = await store.GetRunAsync(id, Ct);
        Assert.Equal(10, run.Data.Metrics.Count);
        Assert.Equal(100, run.Data.Params.Count);
        Assert.Equal(101, run.Data.Tags.Count);
        Assert.Equal(80, (await store.GetMetricHistoryAsync(id, "m3", cancellationToken: Ct)).Items.Count);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.LogBatchAsync(id, metrics, parameters, [.. tags, new RunTag("x", "y")], Ct));
    }

    // ---- inputs and datasets -------------------------------------------------------------

    [Fact]
    public async Task Logged_inputs_round_trip_and_are_searchable()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var a = await NewRunAsync(store, exp, "a");
        var b = await NewRunAsync(store, exp, "b");
        await NewRunAsync(store, exp, "c");
        var iris1 = new Dataset("iris", "d1", "local", "/data/iris.csv", "{\"cols\":4}", "{\"rows\":150}");
        var wine = new Dataset("wine", "d2", "http", "https://example.com/wine.csv");
        var iris3 = new Dataset("iris", "d3", "local", "/data/iris-v3.csv");
        await store.LogInputsAsync(a, [new DatasetInput(iris1, [new InputTag("mlflow.data.context", "training")]), new DatasetInput(wine, [new InputTag("mlflow.data.context", "eval")])], Ct);
        await store.LogInputsAsync(a, [new DatasetInput(iris1, [new InputTag("mlflow.data.context", "training")])], Ct);
        await store.LogInputsAsync(b, [new DatasetInput(iris3, [new InputTag("mlflow.data.context", "eval"), new InputTag("note", "x")])], Ct);

        var runA = await store.GetRunAsync(a, Ct);
        Assert.Equal(2, runA.Inputs.Count);
        var irisInput = runA.Inputs.Single(i => i.Dataset.Name == "iris");
        Assert.Equal(iris1, irisInput.Dataset);
        Assert.Equal([new InputTag("mlflow.data.context", "training")], irisInput.Tags);
        Assert.Equal(wine, runA.Inputs.Single(i => i.Dataset.Name == "wine").Dataset);
        Assert.Equal(2, (await store.GetRunAsync(b, Ct)).Inputs.Single().Tags.Count);

        Assert.Equal(["a", "b"], await MatchingAsync(store, exp, "datasets.name = 'iris'"));
        Assert.Equal(["a"], await MatchingAsync(store, exp, "datasets.digest = 'd2'"));
        Assert.Equal(["a", "b"], await MatchingAsync(store, exp, "datasets.digest IN ('d1', 'd3')"));
        Assert.Equal(["a"], await MatchingAsync(store, exp, "datasets.context = 'training'"));
        Assert.Equal(["a", "b"], await MatchingAsync(store, exp, "datasets.context = 'eval'"));
        Assert.Equal(["a"], await MatchingAsync(store, exp, "datasets.name LIKE 'w%'"));
        Assert.Equal(["b"], await MatchingAsync(store, exp, "datasets.digest = 'd3' OR datasets.name = 'nope'"));
        Assert.Empty(await MatchingAsync(store, exp, "datasets.name = 'mnist'"));
        // The search results carry the inputs too.
        Assert.Equal(2, (await store.SearchRunsAsync(new RunSearch([exp], "attributes.run_name = 'a'"), Ct)).Items.Single().Inputs.Count);
    }

    [Fact]
    public async Task Nested_runs_are_found_by_their_parent_tag()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var parent = await NewRunAsync(store, exp, "parent");
        await NewRunAsync(store, exp, "child-1", tags: [new RunTag(SystemTags.ParentRunId, parent)]);
        await NewRunAsync(store, exp, "child-2", tags: [new RunTag(SystemTags.ParentRunId, parent)]);
        var other = await NewRunAsync(store, exp, "other-parent");
        await NewRunAsync(store, exp, "other-child", tags: [new RunTag(SystemTags.ParentRunId, other)]);

        Assert.Equal(["child-1", "child-2"], await MatchingAsync(store, exp, $"tags.mlflow.parentRunId = '{parent}'"));
        Assert.Equal(["child-1", "child-2"], await MatchingAsync(store, exp, $"tags.`mlflow.parentRunId` = '{parent}'"));
        Assert.Equal(["other-child"], await MatchingAsync(store, exp, $"tags.\"mlflow.parentRunId\" != '{parent}'"));
    }

    // ---- run search ----------------------------------------------------------------------

    [Theory]
    [InlineData("metrics.acc > 0.85", "r1,r5")]
    [InlineData("metrics.acc < 0", "r6")]
    [InlineData("metrics.acc >= -1.5e-3", "r1,r2,r3,r5,r6")]
    [InlineData("metrics.acc > -1E-3", "r1,r2,r3,r5")]
    [InlineData("metrics.acc = 0.9", "r1")]
    [InlineData("metrics.acc <= 0.5", "r3,r6")]
    [InlineData("metric.acc == 0.8", "r2")]
    [InlineData("params.model = 'rf'", "r1,r3")]
    [InlineData("parameters.model = \"gbt\"", "r2,r6")]
    [InlineData("tags.team = 'ml'", "r1")]
    [InlineData("tag.team = 'data'", "r3")]
    [InlineData("attributes.status = 'FINISHED'", "r1,r2")]
    [InlineData("status = 'KILLED'", "r5")]
    [InlineData("attributes.status != 'RUNNING'", "r1,r2,r3,r5")]
    [InlineData("attributes.run_name = 'r2'", "r2")]
    [InlineData("run_name LIKE 'r%'", "r1,r2,r3,r4,r5,r6")]
    [InlineData("attributes.start_time >= 2000 AND attributes.start_time < 4000", "r2,r3")]
    [InlineData("attributes.created > 4500", "r5,r6")]
    [InlineData("start_time <= 1000", "r1")]
    [InlineData("attributes.end_time > 2000", "r2,r3,r5")]
    [InlineData("attributes.user_id = 'tester'", "r1,r2,r3,r4,r5,r6")]
    public async Task Search_runs_by_every_entity_type(string filter, string expected)
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        Assert.Equal(expected.Split(','), await MatchingAsync(store, exp, filter));
    }

    [Theory]
    [InlineData("(params.model = 'rf' OR params.model = 'gbt') AND metrics.acc > 0.7", "r1,r2")]
    [InlineData("params.model = 'rf' OR params.model = 'gbt' AND metrics.acc > 0.7", "r1,r2,r3")]
    [InlineData("params.model = 'gbt' AND metrics.acc > 0.7 OR params.model = 'rf'", "r1,r2,r3")]
    [InlineData("params.model = 'gbt' AND (metrics.acc > 0.7 OR params.model = 'rf')", "r2")]
    [InlineData("(params.model = 'gbt' OR params.model = 'rf') AND (tags.team = 'ml' OR tags.team = 'data')", "r1,r3")]
    [InlineData("params.model = 'lr' OR metrics.acc > 0.92 OR tags.team = 'Ml'", "r4,r5,r6")]
    [InlineData("((status = 'FAILED') OR (status = 'KILLED' AND metrics.acc > 0.9))", "r3,r5")]
    [InlineData("params.model = 'nope' OR params.model = 'also-nope'", "")]
    public async Task Search_runs_with_or_and_parentheses(string filter, string expected)
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        Assert.Equal(expected.Split(',', StringSplitOptions.RemoveEmptyEntries), await MatchingAsync(store, exp, filter));
    }

    [Theory]
    [InlineData("params.model IN ('rf', 'lr')", "r1,r3,r4")]
    [InlineData("params.model NOT IN ('rf')", "r2,r4,r6")]
    [InlineData("attributes.status IN ('FAILED', 'KILLED')", "r3,r5")]
    [InlineData("attributes.status NOT IN ('RUNNING')", "r1,r2,r3,r5")]
    [InlineData("tags.team IN ('ml', 'ML')", "r1,r2")]
    [InlineData("tags.team NOT IN ('ml', 'ML', 'Ml')", "r3")]
    [InlineData("params.model IN ('rf') AND tags.team IN ('data')", "r3")]
    public async Task Search_runs_with_in_and_not_in(string filter, string expected)
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        Assert.Equal(expected.Split(','), await MatchingAsync(store, exp, filter));
    }

    [Fact]
    public async Task Search_runs_by_run_id()
    {
        using var store = await CreateStoreAsync();
        var (exp, ids) = await SeedSearchRunsAsync(store);
        Assert.Equal(["r3"], await MatchingAsync(store, exp, $"attributes.run_id = '{ids["r3"]}'"));
        Assert.Equal(["r1", "r4"], await MatchingAsync(store, exp, $"attributes.run_id IN ('{ids["r1"]}', '{ids["r4"]}')"));
    }

    [Theory]
    [InlineData("tags.team LIKE 'm%'", "r1")]
    [InlineData("tags.team LIKE 'M%'", "r2,r6")]
    [InlineData("tags.team LIKE '%L'", "r2")]
    [InlineData("tags.team ILIKE 'm%'", "r1,r2,r6")]
    [InlineData("tags.team ILIKE '%L'", "r1,r2,r6")]
    [InlineData("params.model LIKE '_b_'", "r2,r6")]
    [InlineData("params.model LIKE 'RF'", "")]
    [InlineData("params.model ILIKE 'RF'", "r1,r3")]
    [InlineData("attributes.run_name ILIKE 'R1'", "r1")]
    [InlineData("attributes.run_name LIKE 'R1'", "")]
    [InlineData("attributes.status LIKE 'F%'", "r1,r2,r3")]
    public async Task Like_is_case_sensitive_and_ilike_is_not(string filter, string expected)
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        Assert.Equal(expected.Split(',', StringSplitOptions.RemoveEmptyEntries), await MatchingAsync(store, exp, filter));
    }

    [Fact]
    public async Task Like_treats_only_percent_and_underscore_as_wildcards()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        foreach (var (name, value) in ((string, string)[])[("star", "a*b"), ("plain", "axb"), ("question", "a?b"), ("bracket", "[ab]"), ("letter", "a")])
        {
            var id = await NewRunAsync(store, exp, name);
            await store.SetTagAsync(id, "v", value, Ct);
        }
        Assert.Equal(["star"], await MatchingAsync(store, exp, "tags.v LIKE 'a*b'"));
        Assert.Equal(["question"], await MatchingAsync(store, exp, "tags.v LIKE 'a?b'"));
        Assert.Equal(["bracket"], await MatchingAsync(store, exp, "tags.v LIKE '[ab]'"));
        Assert.Equal(["plain", "question", "star"], await MatchingAsync(store, exp, "tags.v LIKE 'a_b'"));
        Assert.Equal(["letter", "plain", "question", "star"], await MatchingAsync(store, exp, "tags.v LIKE 'a%'"));
        Assert.Equal(["star"], await MatchingAsync(store, exp, "tags.v ILIKE 'A*B'"));
    }

    [Theory]
    [InlineData("params.model != 'rf'", "r2,r4,r6")]
    [InlineData("params.model <> 'rf'", "r2,r4,r6")]
    [InlineData("tags.team != 'ml'", "r2,r3,r6")]
    [InlineData("metrics.acc != 0.9", "r2,r3,r5,r6")]
    public async Task Not_equal_excludes_runs_lacking_the_key(string filter, string expected)
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        Assert.Equal(expected.Split(','), await MatchingAsync(store, exp, filter));
    }

    [Fact]
    public async Task Search_runs_default_order_is_newest_start_time_first()
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        Assert.Equal(["r6", "r5", "r4", "r3", "r2", "r1"], await RunNamesAsync(store, exp, null));
    }

    [Theory]
    [InlineData("metrics.acc DESC", "r5,r1,r2,r3,r6,r4")]
    [InlineData("metrics.acc ASC", "r6,r3,r2,r1,r5,r4")]
    [InlineData("metrics.acc", "r6,r3,r2,r1,r5,r4")]
    [InlineData("attributes.start_time ASC", "r1,r2,r3,r4,r5,r6")]
    [InlineData("attributes.run_name DESC", "r6,r5,r4,r3,r2,r1")]
    [InlineData("params.model DESC", "r3,r1,r4,r6,r2,r5")]
    public async Task Search_runs_orders_by_one_key_with_missing_values_last(string orderBy, string expected)
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        // Ties (r1/r3 on model) fall back to start_time DESC.
        Assert.Equal(expected.Split(','), await RunNamesAsync(store, exp, null, orderBy));
    }

    [Theory]
    [InlineData("metrics.auc DESC")]
    [InlineData("metrics.acc DESC")]
    [InlineData("metrics.acc ASC")]
    [InlineData("params.seed ASC")]
    public async Task Metric_filter_with_ordering_matches_filtering_and_sorting_all_runs(string orderBy)
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var random = new Random(11);
        for (var i = 0; i < 60; i++)
        {
            var run = await store.CreateRunAsync(new CreateRunRequest(exp, $"run-{i}", StartTime: 1000 + i), Ct);
            await store.LogBatchAsync(run.Info.RunId,
                [new Metric("acc", Math.Round(random.NextDouble(), 3), 1, 0), new Metric("auc", Math.Round(random.NextDouble(), 3), 1, 0)],
                [new Param("model", random.Next(2) == 0 ? "rf" : "gbt"), new Param("seed", $"{i:D3}")], cancellationToken: Ct);
        }
        var all = (await store.SearchRunsAsync(new RunSearch([exp], MaxResults: 1000), Ct)).Items;
        double M(Run r, string key) => r.Data.Metrics.Single(m => m.Key == key).Value;
        var matching = all.Where(r => M(r, "acc") > 0.4 && r.Data.Params.Single(p => p.Key == "model").Value == "rf").ToList();
        var (key, descending) = (orderBy.Split(' ')[0], orderBy.EndsWith("DESC", StringComparison.Ordinal));
        Func<Run, IComparable> sortKey = key.StartsWith("metrics.", StringComparison.Ordinal) ? r => M(r, key[8..]) : r => r.Data.Params.Single(p => p.Key == "seed").Value;
        var ordered = descending ? matching.OrderByDescending(sortKey) : matching.OrderBy(sortKey);
        var expected = ordered.ThenByDescending(r => r.Info.StartTime).Select(r => r.Info.RunName).Take(7).ToList();

        var page = await store.SearchRunsAsync(new RunSearch([exp], "metrics.acc > 0.4 and params.model = 'rf'", MaxResults: 7, OrderBy: [orderBy]), Ct);

        Assert.True(matching.Count > 7, "the seed data must give more matches than one page");
        Assert.Equal(expected, page.Items.Select(r => r.Info.RunName).ToList());
    }

    [Fact]
    public async Task Search_runs_orders_by_several_keys()
    {
        using var store = await CreateStoreAsync();
        var (exp, _) = await SeedSearchRunsAsync(store);
        Assert.Equal(["r2", "r6", "r4", "r1", "r3", "r5"], await RunNamesAsync(store, exp, null, "params.model ASC", "metrics.acc DESC"));
        Assert.Equal(["r6", "r2", "r4", "r3", "r1", "r5"], await RunNamesAsync(store, exp, null, "params.model", "metrics.acc"));
        Assert.Equal(["r1", "r2"], await RunNamesAsync(store, exp, "status = 'FINISHED'", "attributes.status", "attributes.start_time"));
    }

    [Fact]
    public async Task Ordering_by_a_metric_puts_NaN_after_numbers_and_missing_values_last()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        // start_time makes the tiebreak (start_time DESC) favour the run without the metric.
        var a = await NewRunAsync(store, exp, "one", 1);
        var nan = await NewRunAsync(store, exp, "nan", 2);
        await NewRunAsync(store, exp, "missing", 3);
        var two = await NewRunAsync(store, exp, "two", 4);
        await store.LogMetricAsync(a, "m", 1, 1, 0, Ct);
        await store.LogMetricAsync(nan, "m", double.NaN, 1, 0, Ct);
        await store.LogMetricAsync(two, "m", 2, 1, 0, Ct);

        // MLflow sorts NaN after every number and runs without the metric after NaN, in both directions.
        Assert.Equal(["two", "one", "nan", "missing"], await RunNamesAsync(store, exp, null, "metrics.m DESC"));
        Assert.Equal(["one", "two", "nan", "missing"], await RunNamesAsync(store, exp, null, "metrics.m ASC"));
    }

    [Fact]
    public async Task Search_runs_across_experiments_and_view_types()
    {
        using var store = await CreateStoreAsync();
        var e1 = await NewExperimentAsync(store);
        var e2 = await NewExperimentAsync(store);
        var e3 = await NewExperimentAsync(store);
        await NewRunAsync(store, e1, "in-1");
        var gone = await NewRunAsync(store, e2, "in-2-deleted");
        await NewRunAsync(store, e2, "in-2");
        await NewRunAsync(store, e3, "in-3");
        await store.DeleteRunAsync(gone, Ct);

        Assert.Equal(["in-1", "in-2"], (await store.SearchRunsAsync(new RunSearch([e1, e2]), Ct)).Items.Select(r => r.Info.RunName).Order(StringComparer.Ordinal));
        Assert.Equal(["in-2-deleted"], (await store.SearchRunsAsync(new RunSearch([e1, e2], ViewType: ViewType.DELETED_ONLY), Ct)).Items.Select(r => r.Info.RunName));
        Assert.Equal(3, (await store.SearchRunsAsync(new RunSearch([e1, e2, e1], ViewType: ViewType.ALL), Ct)).Items.Count);
        Assert.Empty((await store.SearchRunsAsync(new RunSearch([]), Ct)).Items);
    }

    [Fact]
    public async Task Search_runs_refuses_bad_filters_and_order_by()
    {
        using var store = await CreateStoreAsync();
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SearchRunsAsync(new RunSearch(["0"], "metrics.acc = 'x'"), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SearchRunsAsync(new RunSearch(["0"], "(params.a = 'x'"), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SearchRunsAsync(new RunSearch(["0"], OrderBy: ["metrics.acc SIDEWAYS"]), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.SearchExperimentsAsync(new ExperimentSearch("metrics.acc > 1"), Ct));
    }

    [Fact]
    public async Task Paging_250_runs_by_40_returns_each_run_once_in_a_stable_order()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var ids = new List<string>();
        // Ten runs share each start_time, so only the tiebreak keeps pages apart.
        foreach (var chunk in Enumerable.Range(0, 250).Chunk(25))
            ids.AddRange(await Task.WhenAll(chunk.Select(i => NewRunAsync(store, exp, $"run-{i:D3}", 1_000 + i / 10))));
        await Task.WhenAll(ids.Select((id, i) => i % 3 == 0 ? Task.CompletedTask : store.LogMetricAsync(id, "m", i % 7, 1, 0, Ct)));

        foreach (var orderBy in (string[]?[])[null, ["metrics.m DESC"], ["attributes.start_time ASC"], ["metrics.m ASC", "attributes.run_name DESC"]])
        {
            var paged = await SearchAllRunsAsync(store, new RunSearch([exp], MaxResults: 40, OrderBy: orderBy));
            Assert.Equal(250, paged.Count);
            Assert.Equal(ids.Order(StringComparer.Ordinal), paged.Select(r => r.Info.RunId).Order(StringComparer.Ordinal));
            var whole = await store.SearchRunsAsync(new RunSearch([exp], MaxResults: 1000, OrderBy: orderBy), Ct);
            Assert.Null(whole.NextPageToken);
            Assert.Equal(whole.Items.Select(r => r.Info.RunId), paged.Select(r => r.Info.RunId));
        }
        var byMetric = await SearchAllRunsAsync(store, new RunSearch([exp], MaxResults: 40, OrderBy: ["metrics.m DESC"]));
        Assert.All(byMetric.Take(166), r => Assert.Single(r.Data.Metrics));
        Assert.All(byMetric.Skip(166), r => Assert.Empty(r.Data.Metrics));
        Assert.Equal(6, byMetric[0].Data.Metrics.Single().Value);

        var filtered = await SearchAllRunsAsync(store, new RunSearch([exp], "metrics.m >= 3", MaxResults: 40));
        Assert.Equal(ids.Where((_, i) => i % 3 != 0 && i % 7 >= 3).Order(StringComparer.Ordinal), filtered.Select(r => r.Info.RunId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Run_page_token_replayed_with_another_query_is_refused()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        for (var i = 0; i < 3; i++) await NewRunAsync(store, exp, "r" + i);
        var first = await store.SearchRunsAsync(new RunSearch([exp], MaxResults: 2), Ct);
        Assert.NotNull(first.NextPageToken);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.SearchRunsAsync(new RunSearch([exp], "attributes.run_name = 'r1'", MaxResults: 2, PageToken: first.NextPageToken), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.SearchRunsAsync(new RunSearch([exp, "0"], MaxResults: 2, PageToken: first.NextPageToken), Ct));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
            store.SearchRunsAsync(new RunSearch([exp], MaxResults: 2, ViewType: ViewType.ALL, PageToken: first.NextPageToken), Ct));
        var second = await store.SearchRunsAsync(new RunSearch([exp], MaxResults: 2, PageToken: first.NextPageToken), Ct);
        Assert.Single(second.Items);
        Assert.Null(second.NextPageToken);
    }

    // ---- injection -----------------------------------------------------------------------

    [Fact]
    public async Task Injection_attempts_in_filters_match_nothing_and_harm_nothing()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store, "victims");
        var victim = await NewRunAsync(store, exp, "victim");
        await store.LogBatchAsync(victim, [new Metric("acc", 0.5, 1, 0)], [new Param("x", "a' OR 1=1 --")], [new RunTag("note", "it's; DROP TABLE runs; --")], Ct);
        var bystander = await NewRunAsync(store, exp, "bystander");
        await store.LogBatchAsync(bystander, [new Metric("acc", 0.7, 1, 0)], [new Param("x", "b")], [new RunTag("note", "plain")], Ct);

        string[] harmless =
        [
            "params.\"x; DROP TABLE runs\" = 'a'",
            "params.`x'); DELETE FROM params; --` = 'b'",
            "tags.\"it's\" = 'a'",
            "params.x = 'zzz'' OR ''1''=''1'",
            "params.x IN ('a'') OR (''1''=''1')",
            "params.x NOT IN ('a'' OR 1=1 --', 'b') AND params.x != 'b'",
            "attributes.run_name = 'x''; DROP TABLE runs; --'",
            "attributes.run_name LIKE 'x'' OR run_name LIKE ''%'",
            "tags.note ILIKE 'q'' OR 1=1 --'",
            "datasets.name = 'x''; DROP TABLE datasets; --'",
            "datasets.context = 'x'' OR ''1''=''1'",
            "metrics.\"acc; DROP TABLE latest_metrics\" > 0",
        ];
        foreach (var filter in harmless)
            Assert.Empty(await RunNamesAsync(store, exp, filter));

        // The raw text is compared as a value: the run that really holds it is found, and only that one.
        Assert.Equal(["victim"], await RunNamesAsync(store, exp, "params.x = 'a'' OR 1=1 --'"));
        Assert.Equal(["victim"], await RunNamesAsync(store, exp, "tags.note = 'it''s; DROP TABLE runs; --'"));

        // An injected order_by key is just a key nobody logged: every run comes back.
        Assert.Equal(2, (await RunNamesAsync(store, exp, null, "params.`x DESC; DROP TABLE runs; --` DESC")).Length);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => RunNamesAsync(store, exp, null, "params.x; DROP TABLE runs"));
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => RunNamesAsync(store, exp, "params.x = 'a'; DROP TABLE runs; --"));

        Assert.Empty(await ExperimentNamesAsync(store, "name = 'x'' OR ''1''=''1'"));
        Assert.Empty(await ExperimentNamesAsync(store, "tags.\"k'; DROP TABLE experiments; --\" = 'v'"));

        // Every table is still there and still works.
        Assert.Equal(["bystander", "victim"], await MatchingAsync(store, exp, "metrics.acc > 0"));
        Assert.Equal(["bystander", "victim"], await MatchingAsync(store, exp, "params.x LIKE '%'"));
        Assert.Equal(["bystander", "victim"], await MatchingAsync(store, exp, "tags.note LIKE '%'"));
        var run = await store.GetRunAsync(victim, Ct);
        Assert.Equal([new Param("x", "a' OR 1=1 --")], run.Data.Params);
        await store.LogMetricAsync(victim, "after", 1, cancellationToken: Ct);
        await store.LogInputsAsync(victim, [new DatasetInput(new Dataset("d", "x", "local", "/d"), [])], Ct);
        Assert.Equal(["victim"], await RunNamesAsync(store, exp, "datasets.name = 'd'"));
        Assert.Equal("victims", (await store.GetExperimentAsync(exp, Ct)).Name);
        Assert.Equal("Default", (await store.GetExperimentAsync("0", Ct)).Name);
    }

    // ---- garbage collection --------------------------------------------------------------

    [Fact]
    public async Task Gc_finds_and_purges_only_deleted_runs_and_experiments()
    {
        using var store = await CreateStoreAsync();
        var kept = await NewExperimentAsync(store, "kept");
        var deletedRun = await NewRunAsync(store, kept, "deleted");
        var liveRun = await NewRunAsync(store, kept, "live");
        await store.LogBatchAsync(deletedRun, [new Metric("m", 1, 1, 0)], [new Param("p", "v")], [new RunTag("t", "v")], Ct);
        await store.LogInputsAsync(deletedRun, [new DatasetInput(new Dataset("d", "x", "local", "/d"), [new InputTag("mlflow.data.context", "training")])], Ct);
        var doomed = await NewExperimentAsync(store, "doomed", [new ExperimentTag("k", "v")]);
        var doomedRun = await NewRunAsync(store, doomed, "doomed-run");
        await store.LogBatchAsync(doomedRun, [new Metric("m", 1, 1, 0)], cancellationToken: Ct);
        await store.LogInputsAsync(doomedRun, [new DatasetInput(new Dataset("d", "y", "local", "/d"), [new InputTag("mlflow.data.context", "eval")])], Ct);

        var beforeDelete = Time.GetUtcNow().ToUnixTimeMilliseconds();
        await store.DeleteRunAsync(deletedRun, Ct);
        await store.DeleteExperimentAsync(doomed, Ct);
        var now = Time.GetUtcNow().ToUnixTimeMilliseconds();

        var (runs, experiments) = await store.FindDeletedAsync(now + 1, Ct);
        Assert.Equal(new[] { deletedRun, doomedRun }.Order(StringComparer.Ordinal), runs.Select(r => r.Id).Order(StringComparer.Ordinal));
        var found = runs.Single(r => r.Id == deletedRun);
        Assert.Equal((await store.GetRunAsync(deletedRun, Ct)).Info.ArtifactUri, found.ArtifactLocation);
        Assert.InRange(found.DeletedTime!.Value, beforeDelete, now);
        Assert.Equal([doomed], experiments.Select(e => e.Id));
        Assert.Equal((await store.GetExperimentAsync(doomed, Ct)).ArtifactLocation, experiments[0].ArtifactLocation);
        var (early, earlyExperiments) = await store.FindDeletedAsync(beforeDelete - 1, Ct);
        Assert.Empty(early);
        Assert.Empty(earlyExperiments);

        var ex = await Assert.ThrowsAsync<InvalidStateException>(() => store.PurgeRunAsync(liveRun, Ct));
        Assert.Contains("not deleted", ex.Message);
        await Assert.ThrowsAsync<InvalidStateException>(() => store.PurgeExperimentAsync(kept, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.PurgeRunAsync(UnknownRunId, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.PurgeExperimentAsync("987654", Ct));
        Assert.Equal(LifecycleStage.Active, (await store.GetRunAsync(liveRun, Ct)).Info.LifecycleStage);

        await store.PurgeRunAsync(deletedRun, Ct);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetRunAsync(deletedRun, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetMetricHistoryAsync(deletedRun, "m", cancellationToken: Ct));
        Assert.DoesNotContain((await store.SearchRunsAsync(new RunSearch([kept], ViewType: ViewType.ALL), Ct)).Items, r => r.Info.RunId == deletedRun);

        await store.PurgeExperimentAsync(doomed, Ct);
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetExperimentAsync(doomed, Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.GetRunAsync(doomedRun, Ct));
        var (afterRuns, afterExperiments) = await store.FindDeletedAsync(now + 1, Ct);
        Assert.Empty(afterRuns);
        Assert.Empty(afterExperiments);

        // The name is free again, and what was kept still works.
        var reborn = await NewExperimentAsync(store, "doomed");
        Assert.NotEqual(doomed, reborn);
        await store.LogInputsAsync(liveRun, [new DatasetInput(new Dataset("d", "x", "local", "/d"), [])], Ct);
        Assert.Equal(["live"], await RunNamesAsync(store, kept, "datasets.digest = 'x'"));
    }

    // ---- concurrency ---------------------------------------------------------------------

    [Fact]
    public async Task Parallel_writers_lose_no_metric_points()
    {
        using var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        const int Writers = 32, PointsPerWriter = 200, Runs = 8;
        var runIds = new List<string>();
        for (var r = 0; r < Runs; r++) runIds.Add(await NewRunAsync(store, exp, "run" + r));

        // Each writer owns key w{n} and shares key "shared" with the other writers of its run.
        Metric Point(int writer, int j) => j % 2 == 0
            ? new Metric($"w{writer}", j, 1_000 + j, j)
            : new Metric("shared", writer * 1_000 + j, 1_000 + j, writer * 1_000 + j);

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var runId = runIds[w % Runs];
            if (w % 2 == 0)
            {
                foreach (var chunk in Enumerable.Range(0, PointsPerWriter).Chunk(50))
                    await store.LogBatchAsync(runId, chunk.Select(j => Point(w, j)).ToList(), cancellationToken: Ct);
            }
            else
            {
                for (var j = 0; j < PointsPerWriter; j++)
                {
                    var p = Point(w, j);
                    await store.LogMetricAsync(runId, p.Key, p.Value, p.Timestamp, p.Step, Ct);
                }
            }
        }, Ct)).ToList();
        await Task.WhenAll(writers);

        for (var r = 0; r < Runs; r++)
        {
            var runWriters = Enumerable.Range(0, Writers).Where(w => w % Runs == r).ToList();
            var shared = (await store.GetMetricHistoryAsync(runIds[r], "shared", cancellationToken: Ct)).Items;
            var expectedShared = runWriters.SelectMany(w => Enumerable.Range(0, PointsPerWriter).Where(j => j % 2 == 1).Select(j => Point(w, j))).OrderBy(m => m.Step);
            Assert.Equal(expectedShared, shared);
            foreach (var w in runWriters)
            {
                var own = (await store.GetMetricHistoryAsync(runIds[r], $"w{w}", cancellationToken: Ct)).Items;
                Assert.Equal(Enumerable.Range(0, PointsPerWriter).Where(j => j % 2 == 0).Select(j => Point(w, j)), own);
            }
            var latest = (await store.GetRunAsync(runIds[r], Ct)).Data.Metrics;
            Assert.Equal(runWriters.Max() * 1_000 + PointsPerWriter - 1, latest.Single(m => m.Key == "shared").Value);
            Assert.Equal(runWriters.Count + 1, latest.Count);
            Assert.All(latest.Where(m => m.Key != "shared"), m => Assert.Equal(PointsPerWriter - 2, m.Step));
        }
    }

    // ---- limits (issue 11) -----------------------------------------------------------------

    [Fact]
    public async Task Filters_at_the_parser_limits_run_and_match_what_a_short_filter_would()
    {
        var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var full = await NewRunAsync(store, exp, "full");
        var bare = await NewRunAsync(store, exp, "bare");
        await store.LogBatchAsync(full,
            Enumerable.Range(0, 50).Select(i => new Metric($"m{i}", i, 1, 0)).ToList(),
            Enumerable.Range(0, 50).Select(i => new Param($"p{i}", $"v{i}")).ToList(),
            Enumerable.Range(0, 50).Select(i => new RunTag($"t{i}", $"v{i}")).ToList(), Ct);
        await store.LogBatchAsync(bare, [new Metric("m0", 0, 1, 0)], [new Param("p0", "v0")], [new RunTag("t0", "v0")], Ct);

        // The most terms a filter may hold, all ANDed: too many tables if each were a join, and a chain
        // deeper than its expression limit if written flat.
        var terms = Enumerable.Range(0, 200).Select(i => (i % 3) switch
        {
            0 => $"metrics.m{i % 50} >= {i % 50}",
            1 => $"params.p{i % 50} = 'v{i % 50}'",
            _ => $"tags.t{i % 50} LIKE 'v%'",
        });
        Assert.Equal(["full"], await MatchingAsync(store, exp, string.Join(" AND ", terms)));

        // As many ORed terms: only the last one matches, and only "bare" lacks p7.
        var alternatives = Enumerable.Range(0, 200 - 1).Select(i => $"params.p7 = 'nope{i}'").Append("params.p7 = 'v7'");
        Assert.Equal(["full"], await MatchingAsync(store, exp, string.Join(" OR ", alternatives)));

        // Parentheses nested as deep as allowed, alternating AND and OR.
        var nested = "metrics.m0 >= 0";
        for (var depth = 0; depth < 32; depth++)
            nested = depth % 2 == 0 ? $"(metrics.m{depth % 50 + 1} > 1000 OR {nested})" : $"(params.p{depth % 50} = 'v{depth % 50}' AND {nested})";
        Assert.Equal(["full"], await MatchingAsync(store, exp, nested));

        // Long IN lists travel as one parameter.
        var many = Enumerable.Range(0, 5000).Select(i => $"'v{i}x'").Append("'v3'");
        Assert.Equal(["full"], await MatchingAsync(store, exp, $"params.p3 IN ({string.Join(", ", many)})"));
        Assert.Equal(["bare", "full"], await MatchingAsync(store, exp, $"params.p0 NOT IN ({string.Join(", ", Enumerable.Range(1, 5000).Select(i => $"'v{i}'"))})"));
        Assert.Empty(await MatchingAsync(store, exp, $"params.p3 NOT IN ({string.Join(", ", many)})"));

        // As many order_by keys as allowed, each a join of its own, next to joined filter terms.
        var orderBy = Enumerable.Range(0, 10).Select(i => i % 2 == 0 ? $"metrics.m{i} DESC" : $"params.p{i}").ToArray();
        var filter = string.Join(" AND ", Enumerable.Range(0, 20).Select(i => $"tags.t0 = 'v0'"));
        Assert.Equal(["full", "bare"], await RunNamesAsync(store, exp, filter, orderBy));
    }

    [Fact]
    public async Task Filters_past_the_limits_are_refused_naming_the_limit()
    {
        var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        async Task<string> RefusedAsync(string filter, IReadOnlyList<string>? orderBy = null) =>
            (await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
                store.SearchRunsAsync(new RunSearch([exp], filter, OrderBy: orderBy), Ct))).Message;

        Assert.Contains("more than 32 deep", await RefusedAsync(new string('(', 20_000) + "metrics.a > 1" + new string(')', 20_000)));
        Assert.Contains("at most 200 comparisons", await RefusedAsync(string.Join(" OR ", Enumerable.Range(0, 201).Select(i => $"metrics.a > {i}"))));
        var longFilter = "params.a = '" + new string('x', 100_000) + "'";
        var message = await RefusedAsync(longFilter);
        Assert.Contains("at most 100000", message);
        Assert.True(message.Length < 1000, "the error quotes the start of the filter, not all of it");
        Assert.Contains("at most 10 are allowed", await RefusedAsync("", Enumerable.Range(0, 11).Select(i => $"metrics.m{i}").ToArray()));
    }

    [Fact]
    public async Task A_page_of_40000_runs_loads_with_their_data()
    {
        // More runs than SQLite's 32,766 bound parameters: loading a page's params, tags and metrics must not bind one
        // parameter per run (cairn gc pages through a deleted experiment's runs 50,000 at a time).
        const int Runs = 40_000;
        var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < Runs; i = Interlocked.Increment(ref next))
                await NewRunAsync(store, exp, $"r{i}", startTime: i, tags: [new RunTag("i", i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        }, Ct)));

        var page = await store.SearchRunsAsync(new RunSearch([exp], MaxResults: TrackingLimits.SearchMaxResultsThreshold), Ct);
        Assert.Null(page.NextPageToken);
        Assert.Equal(Runs, page.Items.Count);
        Assert.All(page.Items, r => Assert.Equal(r.Info.RunName, "r" + r.Data.Tags.Single(t => t.Key == "i").Value));

        // A filter's long IN list of run ids goes the same way.
        var ids = page.Items.Take(2_000).Select(r => $"'{r.Info.RunId}'");
        var matched = await store.SearchRunsAsync(new RunSearch([exp], $"attributes.run_id IN ({string.Join(",", ids)})", MaxResults: TrackingLimits.SearchMaxResultsThreshold), Ct);
        Assert.Equal(2_000, matched.Items.Count);
    }

    /// <summary>Compares runs by value, including their lists.</summary>
    private sealed class RunComparer : IEqualityComparer<Run>
    {
        public static readonly RunComparer Instance = new();

        public bool Equals(Run? x, Run? y) =>
            x is not null && y is not null
            && x.Info == y.Info
            && x.Data.Metrics.SequenceEqual(y.Data.Metrics)
            && x.Data.Params.SequenceEqual(y.Data.Params)
            && x.Data.Tags.SequenceEqual(y.Data.Tags)
            && x.Inputs.Count == y.Inputs.Count;

        public int GetHashCode(Run obj) => obj.Info.GetHashCode();
    }

    // ---- concurrency -----------------------------------------------------------------------

    [Fact]
    public async Task Racing_log_inputs_of_one_new_dataset_all_succeed_and_share_one_dataset()
    {
        var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var runs = new List<string>();
        for (var i = 0; i < 4; i++) runs.Add(await NewRunAsync(store, exp, $"r{i}"));
        for (var round = 0; round < Race.Rounds; round++)
        {
            var dataset = new Dataset($"data-{round}", "digest", "local", $"/data/{round}.csv");
            var outcomes = await Race.RunAsync(runs.Select(run => (Func<Task>)(() =>
                store.LogInputsAsync(run, [new DatasetInput(dataset, [new InputTag("mlflow.data.context", "training")])], Ct))).ToArray());
            Assert.All(outcomes, Assert.Null);
            Assert.Equal(runs.Count, (await MatchingAsync(store, exp, $"datasets.name = 'data-{round}'")).Length);
        }
        foreach (var run in runs) Assert.Equal(Race.Rounds, (await store.GetRunAsync(run, Ct)).Inputs.Count);
    }

    [Fact]
    public async Task Racing_logged_models_all_land_in_the_run_history()
    {
        var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        for (var round = 0; round < Race.Rounds; round++)
        {
            var run = await NewRunAsync(store, exp);
            var outcomes = await Race.RunAsync(Enumerable.Range(0, 4).Select(i => (Func<Task>)(() =>
                store.RecordLoggedModelAsync(run, "{\"artifact_path\": \"model-" + i + "\", \"flavors\": {}}", Ct))).ToArray());
            Assert.All(outcomes, Assert.Null);
            var history = (await store.GetRunAsync(run, Ct)).Data.Tags.Single(t => t.Key == SystemTags.LoggedModels).Value;
            var paths = System.Text.Json.JsonDocument.Parse(history).RootElement.EnumerateArray().Select(m => m.GetProperty("artifact_path").GetString()).Order();
            Assert.Equal(["model-0", "model-1", "model-2", "model-3"], paths);
        }
    }

    [Fact]
    public async Task A_logged_model_must_be_a_json_object_and_its_run_active()
    {
        var store = await CreateStoreAsync();
        var exp = await NewExperimentAsync(store);
        var run = await NewRunAsync(store, exp);
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.RecordLoggedModelAsync(run, "[1, 2]", Ct));
        Assert.Contains("model_json", error.Message);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.RecordLoggedModelAsync(run, "{not json", Ct));
        await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => store.RecordLoggedModelAsync(UnknownRunId, "{}", Ct));
        await store.DeleteRunAsync(run, Ct);
        await Assert.ThrowsAsync<InvalidParameterValueException>(() => store.RecordLoggedModelAsync(run, "{}", Ct));
    }
}

/// <summary>The contract over a real SQLite file, one per test.</summary>
public sealed class SqliteTrackingStoreTests : TrackingStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Sqlite("tracking");

    protected override async Task<ITrackingStore> CreateStoreAsync() => (await _sets.OpenAsync(Time, Ct)).Tracking;

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// The contract over PostgreSQL when CAIRN_TEST_POSTGRES holds an Npgsql connection string
/// (start one with <c>.ci/postgres.sh start</c>). Each store gets its own schema, dropped afterwards.
/// </summary>
public sealed class PostgresTrackingStoreTests : TrackingStoreContract
{
    private static readonly string? ConnectionString = Environment.GetEnvironmentVariable("CAIRN_TEST_POSTGRES");
    private readonly List<(CairnStores Store, string Schema)> _stores = [];

    protected override async Task<ITrackingStore> CreateStoreAsync()
    {
        Assert.SkipWhen(string.IsNullOrWhiteSpace(ConnectionString),
            "CAIRN_TEST_POSTGRES is unset, so PostgreSQL is absent: set it to an Npgsql connection string (e.g. from .ci/postgres.sh start) to run the PostgreSQL store contract.");
        var schema = "cairn_test_" + Guid.NewGuid().ToString("N")[..16];
        var connectionString = new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema }.ToString();
        var stores = await CairnStores.OpenAsync(connectionString, new CairnStoreOptions { DefaultArtifactRoot = "s3://cairn-test/artifacts", TimeProvider = Time }, Ct);
        _stores.Add((stores, schema));
        return stores.Tracking;
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (var (store, _) in _stores) store.Dispose();
        if (_stores.Count > 0 && ConnectionString is not null)
        {
            await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
            foreach (var (_, schema) in _stores)
            {
                await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        await base.DisposeAsync();
    }

    [Fact]
    public async Task Schema_from_a_postgresql_uri_is_created_and_used()
    {
        Assert.SkipWhen(string.IsNullOrWhiteSpace(ConnectionString),
            "CAIRN_TEST_POSTGRES is unset, so PostgreSQL is absent.");
        var csb = new NpgsqlConnectionStringBuilder(ConnectionString);
        var schema = "cairn_uri_" + Guid.NewGuid().ToString("N")[..12];
        var uri = $"postgresql://{Uri.EscapeDataString(csb.Username ?? "postgres")}:{Uri.EscapeDataString(csb.Password ?? "")}@{csb.Host}:{csb.Port}/{csb.Database}?schema={schema}";
        using (var store = await CairnStores.OpenAsync(uri, new CairnStoreOptions { DefaultArtifactRoot = "s3://cairn-test/artifacts" }, Ct))
        {
            _stores.Add((store, schema));
            await store.Tracking.CreateExperimentAsync("via-uri", cancellationToken: Ct);
        }
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString!);
        await using var count = dataSource.CreateCommand($"SELECT COUNT(*) FROM \"{schema}\".experiments WHERE name = 'via-uri'");
        Assert.Equal(1L, await count.ExecuteScalarAsync(Ct));
    }
}
