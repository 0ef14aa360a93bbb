using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>Starting runs.</summary>
public sealed partial class CairnClient
{
    /// <summary>The options the client was opened with (its runs read their logger settings here).</summary>
    internal CairnClientOptions Options => _options;

    /// <summary>A client over a store the caller opened (tests wrap a real store, e.g. to slow its writes); it disposes the store.</summary>
    internal static CairnClient Over(ITrackingStore store, CairnClientOptions? options = null) =>
        new(CairnStores.Over(store), options ?? new CairnClientOptions(), null);

    /// <summary>
    /// Starts a run in the experiment named by <see cref="StartRunOptions.ExperimentId"/> (which must exist and be active)
    /// or <see cref="StartRunOptions.ExperimentName"/> (created when missing), with the same system tags as
    /// <see cref="StartRun(string, string?, IReadOnlyDictionary{string, string}?, string?)"/>.
    /// Blocks for the round trip; async code should prefer <see cref="StartRunAsync(StartRunOptions, CancellationToken)"/>.
    /// </summary>
    public ActiveRun StartRun(StartRunOptions options) => Task.Run(() => StartRunAsync(options)).GetAwaiter().GetResult();

    /// <summary>Starts a run; see <see cref="StartRun(StartRunOptions)"/>.</summary>
    public async Task<ActiveRun> StartRunAsync(StartRunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if ((options.ExperimentId is null) == (options.ExperimentName is null))
            throw new InvalidParameterValueException("StartRunOptions: set exactly one of ExperimentId and ExperimentName.");
        if (options.ExperimentName is not null)
            return await StartRunAsync(options.ExperimentName, options.RunName, options.Tags, options.ParentRunId, cancellationToken).ConfigureAwait(false);

        ArgumentException.ThrowIfNullOrWhiteSpace(options.ExperimentId, nameof(options.ExperimentId));
        // GetExperiment throws RESOURCE_DOES_NOT_EXIST for an unknown id; a deleted experiment takes no new runs (as MLflow).
        var experiment = await Store.GetExperimentAsync(options.ExperimentId, cancellationToken).ConfigureAwait(false);
        if (experiment.LifecycleStage != LifecycleStage.Active)
            throw new InvalidParameterValueException($"StartRunOptions.ExperimentId: experiment {options.ExperimentId} is deleted; restore it or use another.");
        if (options.ParentRunId is not null) await Store.GetRunAsync(options.ParentRunId, cancellationToken).ConfigureAwait(false);
        return await CreateRunInAsync(experiment.ExperimentId, options.RunName, options.Tags, options.ParentRunId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the run with MLflow's system tags in <paramref name="experimentId"/> and starts its logger.</summary>
    private async Task<ActiveRun> CreateRunInAsync(string experimentId, string? runName, IReadOnlyDictionary<string, string>? tags,
        string? parentRunId, CancellationToken cancellationToken)
    {
        var user = Environment.UserName;
        var allTags = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [SystemTags.User] = user,
            [SystemTags.SourceName] = SourceName(),
            [SystemTags.SourceType] = "LOCAL",
        };
        if (parentRunId is not null) allTags[SystemTags.ParentRunId] = parentRunId;
        foreach (var (key, value) in tags ?? new Dictionary<string, string>()) allTags[key] = value;
        var run = await Store.CreateRunAsync(new CreateRunRequest(
            experimentId,
            runName,
            _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds(),
            allTags.GetValueOrDefault(SystemTags.User, user),
            allTags.Select(t => new RunTag(t.Key, t.Value)).ToList()), cancellationToken).ConfigureAwait(false);
        return ActiveRun.Attach(Store, run, _options.RunLogger, this, _options.TimeProvider);
    }
}
