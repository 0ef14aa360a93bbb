using Cairn.Registry;
using Cairn.Storage;
using Cairn.Tracking;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Cairn.Tests.Storage;

/// <summary>
/// The MLflow registry semantics, plus Cairn's audit trail, rollback and promotion gates, that every
/// <see cref="IRegistryStore"/> backend must show. One sealed subclass per backend supplies a fresh, empty store.
/// </summary>
public abstract class RegistryStoreContract : IAsyncDisposable
{
    /// <summary>New, empty stores of the backend under test (tracking and registry over one database), writing times from <see cref="Time"/>.</summary>
    protected abstract Task<CairnStores> CreateStoresAsync();

    /// <summary>The stores' clock: tests move it instead of sleeping to separate timestamps.</summary>
    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(ITrackingStore Tracking, IRegistryStore Registry)> StoresAsync()
    {
        var stores = await CreateStoresAsync();
        return (stores.Tracking, stores.Registry);
    }

    /// <summary>A run with the given metrics; returns its id.</summary>
    private static async Task<string> RunWithMetricsAsync(ITrackingStore tracking, params (string Key, double Value)[] metrics)
    {
        var experiments = await tracking.SearchExperimentsAsync(new ExperimentSearch(), Ct);
        var run = await tracking.CreateRunAsync(new CreateRunRequest(experiments.Items[0].ExperimentId, UserId: "tester"), Ct);
        if (metrics.Length > 0)
            await tracking.LogBatchAsync(run.Info.RunId, metrics.Select(m => new Metric(m.Key, m.Value, 1000, 0)).ToList(), cancellationToken: Ct);
        return run.Info.RunId;
    }

    private static async Task<string[]> ModelNamesAsync(IRegistryStore registry, string? filter, params string[] orderBy) =>
        (await registry.SearchRegisteredModelsAsync(new RegisteredModelSearch(filter, OrderBy: orderBy.Length == 0 ? null : orderBy), Ct)).Items.Select(m => m.Name).ToArray();

    private static async Task<string[]> VersionsAsync(IRegistryStore registry, string? filter, params string[] orderBy) =>
        (await registry.SearchModelVersionsAsync(new ModelVersionSearch(filter, OrderBy: orderBy.Length == 0 ? null : orderBy), Ct)).Items.Select(v => $"{v.Name}/{v.Version}").ToArray();

    private static async Task<ErrorCode> ErrorOfAsync(Func<Task> action) => (await Assert.ThrowsAnyAsync<CairnException>(action)).ErrorCode;

    // ---- registered models -----------------------------------------------------------------

    [Fact]
    public async Task Create_and_get_registered_model_with_tags_and_description()
    {
        var (_, registry) = await StoresAsync();
        var created = await registry.CreateRegisteredModelAsync("m", [new("team", "a"), new("k", "v")], "first", Ct);
        Assert.Equal(created.CreationTimestamp, created.LastUpdatedTimestamp);
        var model = await registry.GetRegisteredModelAsync("m", Ct);
        Assert.Equal("first", model.Description);
        Assert.Equal([new("k", "v"), new("team", "a")], model.Tags.OrderBy(t => t.Key, StringComparer.Ordinal));
        Assert.Empty(model.LatestVersions);
        Assert.Empty(model.Aliases);
    }

    [Fact]
    public async Task Duplicate_model_is_RESOURCE_ALREADY_EXISTS_and_unknown_names_are_RESOURCE_DOES_NOT_EXIST()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        Assert.Equal(ErrorCode.RESOURCE_ALREADY_EXISTS, await ErrorOfAsync(() => registry.CreateRegisteredModelAsync("m", cancellationToken: Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.GetRegisteredModelAsync("nope", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.DeleteRegisteredModelAsync("nope", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.GetModelVersionAsync("m", "1", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.GetModelVersionAsync("nope", "1", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.CreateModelVersionAsync(new("nope", "s3://b/m"), Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.CreateModelVersionAsync(new("nope", "runs:/abc/model"), Ct)));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.CreateRegisteredModelAsync("", cancellationToken: Ct)));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.GetModelVersionAsync("m", "one", Ct)));
    }

    [Fact]
    public async Task Update_description_and_tags()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", [new("k", "v")], cancellationToken: Ct);
        var updated = await registry.UpdateRegisteredModelAsync("m", "new text", Ct);
        Assert.Equal("new text", updated.Description);
        await registry.SetRegisteredModelTagAsync("m", "k", "v2", Ct);
        await registry.SetRegisteredModelTagAsync("m", "extra", "1", Ct);
        await registry.DeleteRegisteredModelTagAsync("m", "extra", Ct);
        Assert.Equal([new RegisteredModelTag("k", "v2")], (await registry.GetRegisteredModelAsync("m", Ct)).Tags);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.SetRegisteredModelTagAsync("nope", "k", "v", Ct)));
    }

    [Fact]
    public async Task Rename_carries_versions_tags_aliases_and_audit_and_refuses_an_existing_name()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("old", cancellationToken: Ct);
        await registry.CreateRegisteredModelAsync("taken", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("old", "s3://b/1", Tags: [new("vt", "1")]), Ct);
        await registry.SetRegisteredModelAliasAsync("old", "champion", "1", "alice", Ct);
        Assert.Equal(ErrorCode.RESOURCE_ALREADY_EXISTS, await ErrorOfAsync(() => registry.RenameRegisteredModelAsync("old", "taken", Ct)));

        var renamed = await registry.RenameRegisteredModelAsync("old", "new", Ct);
        Assert.Equal("new", renamed.Name);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.GetRegisteredModelAsync("old", Ct)));
        var version = await registry.GetModelVersionByAliasAsync("new", "champion", Ct);
        Assert.Equal(("new", "1"), (version.Name, version.Version));
        Assert.Equal([new ModelVersionTag("vt", "1")], version.Tags);
        Assert.Single(await registry.GetAuditTrailAsync("new", cancellationToken: Ct));
        // The counter moved with the model: the next version is 2.
        Assert.Equal("2", (await registry.CreateModelVersionAsync(new("new", "s3://b/2"), Ct)).Version);
    }

    [Fact]
    public async Task Delete_model_cascades_to_versions_tags_and_aliases()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", [new("k", "v")], cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1", Tags: [new("t", "1")]), Ct);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "1", cancellationToken: Ct);
        await registry.DeleteRegisteredModelAsync("m", Ct);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.GetModelVersionAsync("m", "1", Ct)));
        Assert.Empty(await VersionsAsync(registry, "name = 'm'"));
        // A model created again under the name starts afresh.
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        var model = await registry.GetRegisteredModelAsync("m", Ct);
        Assert.Empty(model.Tags);
        Assert.Empty(model.Aliases);
        Assert.Equal("1", (await registry.CreateModelVersionAsync(new("m", "s3://b/1"), Ct)).Version);
    }

    [Fact]
    public async Task Search_models_by_name_like_ilike_and_tags_with_order_and_pages()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("alpha-one", [new("team", "x")], cancellationToken: Ct);
        await registry.CreateRegisteredModelAsync("alpha-two", [new("team", "y")], cancellationToken: Ct);
        Time.Advance(TimeSpan.FromMilliseconds(20)); // a later creation time than the others
        await registry.CreateRegisteredModelAsync("Beta", cancellationToken: Ct);

        Assert.Equal(["alpha-one"], await ModelNamesAsync(registry, "name = 'alpha-one'"));
        Assert.Equal(["alpha-two", "alpha-one"], await ModelNamesAsync(registry, "name LIKE 'alpha-%'", "name DESC"));
        Assert.Empty(await ModelNamesAsync(registry, "name LIKE 'ALPHA%'"));
        Assert.Equal(["alpha-one", "alpha-two"], await ModelNamesAsync(registry, "name ILIKE 'ALPHA%'"));
        Assert.Equal(["alpha-two"], await ModelNamesAsync(registry, "name LIKE 'alpha%' AND tags.team = 'y'"));
        Assert.Equal(["Beta", "alpha-one", "alpha-two"], await ModelNamesAsync(registry, null));
        Assert.Equal("Beta", (await ModelNamesAsync(registry, null, "creation_timestamp DESC", "name ASC"))[0]);
        Assert.Equal("Beta", (await ModelNamesAsync(registry, null, "creation_timestamp ASC", "name DESC"))[^1]);
        Assert.Equal(["alpha-two", "alpha-one", "Beta"], await ModelNamesAsync(registry, null, "name DESC"));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => ModelNamesAsync(registry, "source_path = 'x'")));

        var seen = new List<string>();
        string? token = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 10, "paging did not terminate");
            var page = await registry.SearchRegisteredModelsAsync(new RegisteredModelSearch(MaxResults: 2, OrderBy: ["name ASC"], PageToken: token), Ct);
            seen.AddRange(page.Items.Select(m => m.Name));
            token = page.NextPageToken;
            if (token is null) break;
        }
        Assert.Equal(["Beta", "alpha-one", "alpha-two"], seen);
    }

    // ---- model versions --------------------------------------------------------------------

    [Fact]
    public async Task Version_from_runs_uri_records_run_id_keeps_source_and_resolves_to_the_run_artifacts()
    {
        var (tracking, registry) = await StoresAsync();
        var runId = await RunWithMetricsAsync(tracking);
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        var version = await registry.CreateModelVersionAsync(new("m", $"runs:/{runId}/model", Description: "d", Tags: [new("t", "1")]), Ct);
        Assert.Equal(("1", runId, $"runs:/{runId}/model", ModelStage.None, ModelVersionStatus.READY), (version.Version, version.RunId, version.Source, version.CurrentStage, version.Status));
        Assert.Equal($"runs:/{runId}/model", await registry.GetModelVersionDownloadUriAsync("m", "1", Ct));
        var run = await tracking.GetRunAsync(runId, Ct);
        Assert.Equal($"{run.Info.ArtifactUri}/model", await ModelUri.ResolveAsync("models:/m/1", registry, tracking, cancellationToken: Ct));
        var fetched = await registry.GetModelVersionAsync("m", "1", Ct);
        Assert.Equal(version with { Aliases = fetched.Aliases }, fetched with { Tags = version.Tags });
    }

    [Fact]
    public async Task Version_whose_runs_uri_names_an_unknown_run_keeps_the_source_as_given_like_mlflow()
    {
        // MLflow's registry stores any runs:/ source (the run may live on another tracking server); its own tests
        // register "runs:/run_id/model" with run_id "run_id_1".
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        var unknown = "runs:/0123456789abcdef0123456789abcdef/model";
        var version = await registry.CreateModelVersionAsync(new("m", unknown), Ct);
        Assert.Equal(unknown, version.Source);
        Assert.Null(version.RunId);
        Assert.Equal(unknown, await registry.GetModelVersionDownloadUriAsync("m", "1", Ct));
        var withRunId = await registry.CreateModelVersionAsync(new("m", "runs:/run_id/model", "run_id_1"), Ct);
        Assert.Equal("run_id_1", withRunId.RunId);
        Assert.Equal("runs:/run_id/model", (await registry.GetModelVersionAsync("m", "2", Ct)).Source);
        // A malformed runs:/ URI is still refused, naming the field.
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => registry.CreateModelVersionAsync(new("m", "runs:/"), Ct));
        Assert.Contains("'source'", error.Message);
    }

    [Fact]
    public async Task Version_numbers_grow_per_model_and_are_never_reused_after_delete()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("a", cancellationToken: Ct);
        await registry.CreateRegisteredModelAsync("b", cancellationToken: Ct);
        for (var i = 0; i < 3; i++) await registry.CreateModelVersionAsync(new("a", $"s3://b/{i}"), Ct);
        Assert.Equal("1", (await registry.CreateModelVersionAsync(new("b", "s3://b/x"), Ct)).Version);
        await registry.DeleteModelVersionAsync("a", "3", Ct);
        await registry.DeleteModelVersionAsync("a", "2", Ct);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.DeleteModelVersionAsync("a", "3", Ct)));
        Assert.Equal("4", (await registry.CreateModelVersionAsync(new("a", "s3://b/4"), Ct)).Version);
        Assert.Equal(["a/4", "a/1"], await VersionsAsync(registry, "name = 'a'"));
    }

    [Fact]
    public async Task Update_version_description_and_tags()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1", Tags: [new("vt", "1")]), Ct);
        Assert.Equal("new", (await registry.UpdateModelVersionAsync("m", "1", "new", Ct)).Description);
        await registry.SetModelVersionTagAsync("m", "1", "vt", "one", Ct);
        await registry.SetModelVersionTagAsync("m", "1", "note", "ok", Ct);
        await registry.DeleteModelVersionTagAsync("m", "1", "note", Ct);
        Assert.Equal([new ModelVersionTag("vt", "one")], (await registry.GetModelVersionAsync("m", "1", Ct)).Tags);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.SetModelVersionTagAsync("m", "9", "k", "v", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.UpdateModelVersionAsync("m", "9", "x", Ct)));
    }

    [Fact]
    public async Task Search_versions_by_name_run_id_list_source_path_and_tags_with_order_and_pages()
    {
        var (tracking, registry) = await StoresAsync();
        var run1 = await RunWithMetricsAsync(tracking);
        var run2 = await RunWithMetricsAsync(tracking);
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateRegisteredModelAsync("n", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", $"runs:/{run1}/model", Tags: [new("vt", "one")]), Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://bucket/m2", run2), Ct);
        await registry.CreateModelVersionAsync(new("n", "s3://bucket/n1", run2), Ct);

        Assert.Equal(["m/2", "m/1"], await VersionsAsync(registry, "name = 'm'"));
        Assert.Equal(["m/1", "m/2"], await VersionsAsync(registry, "name='m'", "version_number ASC"));
        Assert.Equal(["m/1"], await VersionsAsync(registry, $"run_id = '{run1}'"));
        Assert.Equal(["m/2", "n/1"], await VersionsAsync(registry, $"run_id IN ('{run2}', 'ffff')", "name ASC"));
        Assert.Equal(["m/2", "n/1"], await VersionsAsync(registry, "source_path LIKE 's3://bucket/%'", "name ASC"));
        Assert.Equal(["m/1"], await VersionsAsync(registry, "name LIKE '%' AND tags.vt = 'one'"));
        Assert.Equal(["m/2"], await VersionsAsync(registry, "name = 'm' AND version_number > 1"));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => VersionsAsync(registry, "name IN ('m')")));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => VersionsAsync(registry, "metrics.x > 1")));

        var first = await registry.SearchModelVersionsAsync(new ModelVersionSearch("name='m'", 1, ["version_number ASC"]), Ct);
        Assert.Equal("1", Assert.Single(first.Items).Version);
        Assert.NotNull(first.NextPageToken);
        var second = await registry.SearchModelVersionsAsync(new ModelVersionSearch("name='m'", 1, ["version_number ASC"], first.NextPageToken), Ct);
        Assert.Equal("2", Assert.Single(second.Items).Version);
        Assert.Null(second.NextPageToken);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.SearchModelVersionsAsync(new ModelVersionSearch("name='n'", 1, ["version_number ASC"], first.NextPageToken), Ct)));
    }

    // ---- stages ----------------------------------------------------------------------------

    [Fact]
    public async Task Transition_is_case_insensitive_archives_existing_versions_and_feeds_latest_versions()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        for (var i = 0; i < 3; i++) await registry.CreateModelVersionAsync(new("m", $"s3://b/{i}"), Ct);
        Assert.Equal(ModelStage.Production, (await registry.TransitionModelVersionStageAsync("m", "1", "production", cancellationToken: Ct)).CurrentStage);
        await registry.TransitionModelVersionStageAsync("m", "2", "Staging", cancellationToken: Ct);
        await registry.TransitionModelVersionStageAsync("m", "2", "Production", archiveExistingVersions: true, user: "bob", cancellationToken: Ct);
        Assert.Equal(ModelStage.Archived, (await registry.GetModelVersionAsync("m", "1", Ct)).CurrentStage);

        var latest = (await registry.GetLatestVersionsAsync("m", cancellationToken: Ct)).ToDictionary(v => v.CurrentStage, v => v.Version);
        Assert.Equal(new Dictionary<ModelStage, string> { [ModelStage.Archived] = "1", [ModelStage.Production] = "2", [ModelStage.None] = "3" }, latest);
        Assert.Equal(["2"], (await registry.GetLatestVersionsAsync("m", ["PRODUCTION"], Ct)).Select(v => v.Version));
        Assert.Empty(await registry.GetLatestVersionsAsync("m", ["Staging"], Ct));
        Assert.Equal(3, (await registry.GetRegisteredModelAsync("m", Ct)).LatestVersions.Count);

        var stageEntry = (await registry.GetAuditTrailAsync("m", cancellationToken: Ct))[0];
        Assert.Equal((RegistryAction.StageTransitioned, ModelStage.Production, ModelStage.Staging, "1", "2", "bob"),
            (stageEntry.Action, stageEntry.Stage, stageEntry.PreviousStage, stageEntry.FromVersion, stageEntry.ToVersion, stageEntry.User));
    }

    [Fact]
    public async Task Bad_stage_is_INVALID_PARAMETER_VALUE_and_changes_nothing()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1"), Ct);
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => registry.TransitionModelVersionStageAsync("m", "1", "Bogus", cancellationToken: Ct));
        Assert.Contains("Bogus", error.Message);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.TransitionModelVersionStageAsync("m", "1", "Archived", archiveExistingVersions: true, cancellationToken: Ct)));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.GetLatestVersionsAsync("m", ["Bogus"], Ct)));
        Assert.Equal(ModelStage.None, (await registry.GetModelVersionAsync("m", "1", Ct)).CurrentStage);
        Assert.Empty(await registry.GetAuditTrailAsync("m", cancellationToken: Ct));
    }

    // ---- aliases ---------------------------------------------------------------------------

    [Fact]
    public async Task Aliases_set_move_delete_and_show_on_model_and_versions()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        for (var i = 0; i < 2; i++) await registry.CreateModelVersionAsync(new("m", $"s3://b/{i}"), Ct);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "1", cancellationToken: Ct);
        await registry.SetRegisteredModelAliasAsync("m", "challenger", "2", cancellationToken: Ct);
        Assert.Equal(["champion"], (await registry.GetModelVersionByAliasAsync("m", "champion", Ct)).Aliases);
        Assert.Equal([new("challenger", "2"), new RegisteredModelAlias("champion", "1")], (await registry.GetRegisteredModelAsync("m", Ct)).Aliases);

        await registry.SetRegisteredModelAliasAsync("m", "champion", "2", cancellationToken: Ct);
        Assert.Equal("2", (await registry.GetModelVersionByAliasAsync("m", "champion", Ct)).Version);
        Assert.Equal(["challenger", "champion"], (await registry.GetModelVersionAsync("m", "2", Ct)).Aliases);
        Assert.Empty((await registry.GetModelVersionAsync("m", "1", Ct)).Aliases);

        await registry.DeleteRegisteredModelAliasAsync("m", "challenger", cancellationToken: Ct);
        Assert.Equal([new RegisteredModelAlias("champion", "2")], (await registry.GetRegisteredModelAsync("m", Ct)).Aliases);
        // Deleting the version an alias points at takes the alias with it.
        await registry.DeleteModelVersionAsync("m", "2", Ct);
        Assert.Empty((await registry.GetRegisteredModelAsync("m", Ct)).Aliases);
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("LATEST")]
    [InlineData("v3")]
    [InlineData("V12")]
    [InlineData("has space")]
    [InlineData("dot.ted")]
    [InlineData("")]
    public async Task Bad_alias_names_are_INVALID_PARAMETER_VALUE(string alias)
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1"), Ct);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.SetRegisteredModelAliasAsync("m", alias, "1", cancellationToken: Ct)));
        Assert.Empty((await registry.GetRegisteredModelAsync("m", Ct)).Aliases);
    }

    [Fact]
    public async Task Unknown_alias_is_INVALID_PARAMETER_VALUE_and_alias_to_unknown_version_is_RESOURCE_DOES_NOT_EXIST()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1"), Ct);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.GetModelVersionByAliasAsync("m", "nobody", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.GetModelVersionByAliasAsync("nope", "champion", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.SetRegisteredModelAliasAsync("m", "champion", "7", cancellationToken: Ct)));
        Assert.Empty(await registry.GetAuditTrailAsync("m", cancellationToken: Ct));
    }

    // ---- audit, rollback, promotion gates ---------------------------------------------------

    [Fact]
    public async Task Every_alias_change_is_audited_with_user_and_versions()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        for (var i = 0; i < 2; i++) await registry.CreateModelVersionAsync(new("m", $"s3://b/{i}"), Ct);
        var before = Time.GetUtcNow().ToUnixTimeMilliseconds();
        await registry.SetRegisteredModelAliasAsync("m", "champion", "1", "alice", Ct);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "2", cancellationToken: Ct);
        await registry.DeleteRegisteredModelAliasAsync("m", "champion", "carol", Ct);
        await registry.DeleteRegisteredModelAliasAsync("m", "champion", "carol", Ct); // already gone: no change, no entry

        var trail = await registry.GetAuditTrailAsync("m", cancellationToken: Ct);
        Assert.Equal(
            [(RegistryAction.AliasDeleted, "champion", "2", null, "carol"), (RegistryAction.AliasSet, "champion", "1", "2", "unknown"), (RegistryAction.AliasSet, "champion", null, "1", "alice")],
            trail.Select(e => (e.Action, e.Alias, e.FromVersion, e.ToVersion, e.User)));
        Assert.All(trail, e => Assert.InRange(e.Timestamp, before, Time.GetUtcNow().ToUnixTimeMilliseconds()));
        Assert.Equal(2, (await registry.GetAuditTrailAsync("m", 2, Ct)).Count);
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.GetAuditTrailAsync("nope", cancellationToken: Ct)));
    }

    [Fact]
    public async Task Rollback_moves_the_alias_back_to_its_previous_version_and_is_audited()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        for (var i = 0; i < 3; i++) await registry.CreateModelVersionAsync(new("m", $"s3://b/{i}"), Ct);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "1", cancellationToken: Ct);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "3", cancellationToken: Ct);

        var back = await registry.RollbackAliasAsync("m", "champion", "dave", Ct);
        Assert.Equal("1", back.Version);
        Assert.Equal("1", (await registry.GetModelVersionByAliasAsync("m", "champion", Ct)).Version);
        var entry = (await registry.GetAuditTrailAsync("m", cancellationToken: Ct))[0];
        Assert.Equal((RegistryAction.AliasRolledBack, "3", "1", "dave"), (entry.Action, entry.FromVersion, entry.ToVersion, entry.User));

        // A deleted alias comes back where it was.
        await registry.DeleteRegisteredModelAliasAsync("m", "champion", cancellationToken: Ct);
        Assert.Equal("1", (await registry.RollbackAliasAsync("m", "champion", cancellationToken: Ct)).Version);
    }

    [Fact]
    public async Task Rollback_without_an_earlier_version_is_refused_clearly_and_changes_nothing()
    {
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1"), Ct);
        var never = await Assert.ThrowsAsync<InvalidStateException>(() => registry.RollbackAliasAsync("m", "champion", cancellationToken: Ct));
        Assert.Contains("never been moved", never.Message);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "1", cancellationToken: Ct);
        var first = await Assert.ThrowsAsync<InvalidStateException>(() => registry.RollbackAliasAsync("m", "champion", cancellationToken: Ct));
        Assert.Contains("no earlier version", first.Message);
        Assert.Equal("1", (await registry.GetModelVersionByAliasAsync("m", "champion", Ct)).Version);
        Assert.Single(await registry.GetAuditTrailAsync("m", cancellationToken: Ct));
    }

    [Fact]
    public async Task Promotion_passes_when_every_rule_holds_against_the_alias_holder_and_a_fixed_threshold()
    {
        var (tracking, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1", await RunWithMetricsAsync(tracking, ("auc", 0.82))), Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/2", await RunWithMetricsAsync(tracking, ("auc", 0.85))), Ct);
        // First promotion: nobody holds the alias, so only the fixed threshold applies.
        Assert.Equal("1", (await registry.PromoteAsync("m", "1", "champion", ["metrics.auc >= champion", "metrics.auc >= 0.80"], "erin", Ct)).Version);
        var promoted = await registry.PromoteAsync("m", "2", "champion", ["metrics.auc >= champion", "metrics.auc >= 0.80"], "erin", Ct);
        Assert.Equal(["champion"], promoted.Aliases);
        var entry = (await registry.GetAuditTrailAsync("m", cancellationToken: Ct))[0];
        Assert.Equal((RegistryAction.AliasPromoted, "1", "2", "erin"), (entry.Action, entry.FromVersion, entry.ToVersion, entry.User));
    }

    [Theory]
    [InlineData(0.90, 0.85, "metrics.auc >= champion", "0.9")]
    [InlineData(0.78, 0.79, "metrics.auc >= 0.80", "0.8")]
    public async Task Promotion_refuses_naming_the_rule_value_and_threshold_and_changes_nothing(double holderAuc, double candidateAuc, string failing, string threshold)
    {
        var (tracking, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1", await RunWithMetricsAsync(tracking, ("auc", holderAuc))), Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/2", await RunWithMetricsAsync(tracking, ("auc", candidateAuc))), Ct);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "1", cancellationToken: Ct);
        var trailBefore = await registry.GetAuditTrailAsync("m", cancellationToken: Ct);

        var error = await Assert.ThrowsAsync<PromotionRefusedException>(() =>
            registry.PromoteAsync("m", "2", "champion", ["metrics.auc >= champion", "metrics.auc >= 0.80"], cancellationToken: Ct));
        Assert.Equal(failing, error.Rule);
        Assert.Equal(ErrorCode.INVALID_STATE, error.ErrorCode);
        Assert.Contains($"'{failing}'", error.Message);
        Assert.Contains($"auc = {candidateAuc.ToString(System.Globalization.CultureInfo.InvariantCulture)}", error.Message);
        Assert.Contains($">= {threshold}", error.Message);
        Assert.Equal("1", (await registry.GetModelVersionByAliasAsync("m", "champion", Ct)).Version);
        Assert.Equal(trailBefore, await registry.GetAuditTrailAsync("m", cancellationToken: Ct));
    }

    [Fact]
    public async Task Promotion_refuses_a_candidate_without_the_metric_and_a_malformed_rule()
    {
        var (tracking, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1", await RunWithMetricsAsync(tracking, ("acc", 0.9))), Ct);
        var missing = await Assert.ThrowsAsync<PromotionRefusedException>(() => registry.PromoteAsync("m", "1", "champion", ["metrics.auc >= 0.5"], cancellationToken: Ct));
        Assert.Equal("metrics.auc >= 0.5", missing.Rule);
        Assert.Contains("no metric 'auc'", missing.Message);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.PromoteAsync("m", "1", "champion", ["auc >= 0.5"], cancellationToken: Ct)));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => registry.PromoteAsync("m", "1", "champion", ["metrics.auc >= challenger"], cancellationToken: Ct)));
        Assert.Empty((await registry.GetRegisteredModelAsync("m", Ct)).Aliases);
    }

    [Fact]
    public async Task A_models_source_copies_the_version_it_names_even_when_that_versions_run_is_unknown_here()
    {
        // MLflow's copy_model_version registers models:/NAME/N; the source version's runs:/ source may name a run this store lacks.
        var (_, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("copy", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("copy", "runs:/run_id/model", "run_id_1"), Ct);
        var copy = await registry.CreateModelVersionAsync(new("copy", "models:/copy/1", "run_id_1"), Ct);
        Assert.Equal(("2", "models:/copy/1", "run_id_1"), (copy.Version, copy.Source, copy.RunId));
        // Its download URI is the copied version's, as MLflow answers it; a copy of the copy keeps pointing at the first.
        Assert.Equal("runs:/run_id/model", await registry.GetModelVersionDownloadUriAsync("copy", "2", Ct));
        await registry.CreateModelVersionAsync(new("copy", "models:/copy/2"), Ct);
        Assert.Equal("runs:/run_id/model", await registry.GetModelVersionDownloadUriAsync("copy", "3", Ct));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => registry.CreateModelVersionAsync(new("copy", "models:/copy/9"), Ct)));
    }

    // ---- URI resolution --------------------------------------------------------------------

    [Fact]
    public async Task Model_uris_resolve_by_version_alias_stage_latest_and_run()
    {
        var (tracking, registry) = await StoresAsync();
        var runId = await RunWithMetricsAsync(tracking);
        var artifactUri = (await tracking.GetRunAsync(runId, Ct)).Info.ArtifactUri;
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", $"runs:/{runId}/model"), Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://bucket/two"), Ct);
        await registry.CreateModelVersionAsync(new("m", "models:/m/2"), Ct);
        await registry.TransitionModelVersionStageAsync("m", "1", "Production", cancellationToken: Ct);
        await registry.SetRegisteredModelAliasAsync("m", "champion", "2", cancellationToken: Ct);

        Task<string> Resolve(string uri) => ModelUri.ResolveAsync(uri, registry, tracking, cancellationToken: Ct);
        Assert.Equal($"{artifactUri}/model", await Resolve("models:/m/1"));
        Assert.Equal($"{artifactUri}/model", await Resolve("models:/m/Production"));
        Assert.Equal($"{artifactUri}/model", await Resolve("models:/m/production"));
        Assert.Equal("s3://bucket/two", await Resolve("models:/m@champion"));
        Assert.Equal("s3://bucket/two", await Resolve("models:/m/latest"));
        Assert.Equal($"{artifactUri}/sub/dir", await Resolve($"runs:/{runId}/sub/dir"));
        Assert.Equal("s3://elsewhere", await Resolve("s3://elsewhere"));
    }

    [Theory]
    [InlineData("models:/m/9")]
    [InlineData("models:/m@nobody")]
    [InlineData("models:/m/Staging")]
    [InlineData("models:/nope/1")]
    [InlineData("runs:/0123456789abcdef0123456789abcdef/model")]
    public async Task Uri_that_does_not_resolve_is_RESOURCE_DOES_NOT_EXIST_naming_the_uri(string uri)
    {
        var (tracking, registry) = await StoresAsync();
        await registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
        await registry.CreateModelVersionAsync(new("m", "s3://b/1"), Ct);
        var error = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => ModelUri.ResolveAsync(uri, registry, tracking, "model_uri", Ct));
        Assert.Contains($"'{uri}'", error.Message);
        Assert.Contains("'model_uri'", error.Message);
    }

    // ---- concurrency: registry writes that read then write hold the model's row lock ------------------

    [Fact]
    public async Task Racing_gated_promotions_let_exactly_one_win_and_the_audit_records_the_move_from_the_old_champion()
    {
        var (tracking, registry) = await StoresAsync();
        var champion = await RunWithMetricsAsync(tracking, ("auc", 0.80));
        var challenger = await RunWithMetricsAsync(tracking, ("auc", 0.85));
        string[] gate = ["metrics.auc > champion"];
        for (var round = 0; round < Race.Rounds; round++)
        {
            var name = $"race-{round}";
            await registry.CreateRegisteredModelAsync(name, cancellationToken: Ct);
            await registry.CreateModelVersionAsync(new(name, "s3://b/1", champion), Ct);
            await registry.CreateModelVersionAsync(new(name, "s3://b/2", challenger), Ct);
            await registry.CreateModelVersionAsync(new(name, "s3://b/3", challenger), Ct);
            await registry.SetRegisteredModelAliasAsync(name, "champion", "1", cancellationToken: Ct);

            // Both beat the old champion, neither beats the other: whoever comes second must compare with the first.
            var outcomes = await Race.RunAsync(
                () => registry.PromoteAsync(name, "2", "champion", gate, "ann", Ct),
                () => registry.PromoteAsync(name, "3", "champion", gate, "bob", Ct));
            Assert.Single(outcomes, o => o is null);
            Assert.IsType<PromotionRefusedException>(Assert.Single(outcomes, o => o is not null));

            var trail = await registry.GetAuditTrailAsync(name, cancellationToken: Ct);
            Assert.Equal([RegistryAction.AliasPromoted, RegistryAction.AliasSet], trail.Select(e => e.Action));
            Assert.Equal("1", trail[0].FromVersion);
            Assert.Equal(trail[0].ToVersion, (await registry.GetModelVersionByAliasAsync(name, "champion", Ct)).Version);
        }
    }

    [Fact]
    public async Task Racing_alias_moves_each_record_the_version_they_left_so_rollback_returns_to_the_right_one()
    {
        var (_, registry) = await StoresAsync();
        for (var round = 0; round < Race.Rounds; round++)
        {
            var name = $"race-{round}";
            await registry.CreateRegisteredModelAsync(name, cancellationToken: Ct);
            for (var i = 0; i < 3; i++) await registry.CreateModelVersionAsync(new(name, $"s3://b/{i}"), Ct);
            await registry.SetRegisteredModelAliasAsync(name, "champion", "1", cancellationToken: Ct);

            var outcomes = await Race.RunAsync(
                () => registry.SetRegisteredModelAliasAsync(name, "champion", "2", "ann", Ct),
                () => registry.SetRegisteredModelAliasAsync(name, "champion", "3", "bob", Ct));
            Assert.All(outcomes, Assert.Null);

            // Newest first: each move left the version the one before it set.
            var trail = await registry.GetAuditTrailAsync(name, cancellationToken: Ct);
            Assert.Equal(3, trail.Count);
            Assert.Equal(trail[1].ToVersion, trail[0].FromVersion);
            Assert.Equal(trail[2].ToVersion, trail[1].FromVersion);
            Assert.Equal(trail[0].ToVersion, (await registry.GetModelVersionByAliasAsync(name, "champion", Ct)).Version);
            Assert.Equal(trail[1].ToVersion, (await registry.RollbackAliasAsync(name, "champion", cancellationToken: Ct)).Version);
        }
    }

    [Fact]
    public async Task Racing_transitions_to_production_that_archive_existing_versions_leave_one_production_version()
    {
        var (_, registry) = await StoresAsync();
        for (var round = 0; round < Race.Rounds; round++)
        {
            var name = $"race-{round}";
            await registry.CreateRegisteredModelAsync(name, cancellationToken: Ct);
            for (var i = 0; i < 3; i++) await registry.CreateModelVersionAsync(new(name, $"s3://b/{i}"), Ct);

            var outcomes = await Race.RunAsync(
                () => registry.TransitionModelVersionStageAsync(name, "1", "Production", archiveExistingVersions: true, cancellationToken: Ct),
                () => registry.TransitionModelVersionStageAsync(name, "2", "Production", archiveExistingVersions: true, cancellationToken: Ct),
                () => registry.TransitionModelVersionStageAsync(name, "3", "Production", archiveExistingVersions: true, cancellationToken: Ct));
            Assert.All(outcomes, Assert.Null);

            var versions = (await registry.SearchModelVersionsAsync(new ModelVersionSearch($"name = '{name}'"), Ct)).Items;
            var production = Assert.Single(versions, v => v.CurrentStage == ModelStage.Production);
            Assert.Equal(2, versions.Count(v => v.CurrentStage == ModelStage.Archived));
            // The last transition in the trail is the one that stands.
            Assert.Equal(production.Version, (await registry.GetAuditTrailAsync(name, 1, Ct))[0].ToVersion);
        }
    }

    private sealed class ModelComparer : IEqualityComparer<RegisteredModel>
    {
        public bool Equals(RegisteredModel? x, RegisteredModel? y) =>
            x is not null && y is not null && x.Name == y.Name && x.LastUpdatedTimestamp == y.LastUpdatedTimestamp
            && x.LatestVersions.Count == y.LatestVersions.Count && x.Tags.SequenceEqual(y.Tags) && x.Aliases.SequenceEqual(y.Aliases);

        public int GetHashCode(RegisteredModel obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}

/// <summary>The registry contract over a real SQLite file, one per test.</summary>
public sealed class SqliteRegistryStoreTests : RegistryStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Sqlite("registry");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>The registry contract over PostgreSQL when CAIRN_TEST_POSTGRES is set; each store gets its own schema, dropped afterwards.</summary>
public sealed class PostgresRegistryStoreTests : RegistryStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Postgres("cairn_reg_", "registry contract");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}
