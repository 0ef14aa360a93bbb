using System.Collections.Concurrent;
using System.Text.Json;
using Cairn.Client;
using Cairn.ML.Models;
using Cairn.Registry;
using Cairn.Serving;
using Cairn.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Scoring;

/// <summary>How <c>cairn server</c> keeps deployments' models. Section <c>Cairn:Deployments</c>.</summary>
public sealed class DeploymentRuntimeOptions
{
    public const string Section = "Cairn:Deployments";

    /// <summary>Seconds between two reads of each loaded deployment's revision and aliases (0.05 to 3600).</summary>
    public double RefreshSeconds { get; set; } = 5;

    /// <summary>Shadow scorings running at once over all deployments; a request that finds them all busy skips its shadows (counted).</summary>
    public int MaxShadowsInFlight { get; set; } = 64;

    /// <summary>Where fetched model packages are kept; unset: <c>CAIRN_HOME/deployments-cache</c>.</summary>
    public string? CacheFolder { get; set; }
}

/// <summary>
/// The data plane of deployments in <c>cairn server</c>: for a deployment name, the loaded models of its routes. A deployment
/// is loaded on its first request (route URIs resolved with the registry, packages fetched through the one model resolver,
/// <see cref="CairnClient.LocateModelAsync"/>, loaded and warmed on their input example) and then kept; a background loop
/// re-reads each loaded deployment's revision and aliases every <see cref="DeploymentRuntimeOptions.RefreshSeconds"/> and,
/// when either moved, loads and warms the new models before swapping in a new snapshot. Requests in flight keep the old
/// snapshot until they finish. A failed load keeps the previous snapshot serving and shows in readiness (degraded) and the log.
/// </summary>
internal sealed partial class DeploymentRuntime : BackgroundService
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    // Deployments whose first load failed (one per existing deployment at most: unknown names never get here).
    private readonly ConcurrentDictionary<string, string> _loadFailures = new(StringComparer.Ordinal);
    private readonly ServerStores _stores;
    private readonly DeploymentRuntimeOptions _options;
    private readonly ScoringService _scoring;
    private readonly ILogger<DeploymentRuntime> _logger;
    private readonly string _cache;
    private readonly string? _artifactsDestination;
    private readonly SemaphoreSlim _shadowSlots;
    private long _shadowFailures;
    private long _shadowsSkipped;

    public DeploymentRuntime(ServerStores stores, IOptions<DeploymentRuntimeOptions> options, IOptions<ServerStoreOptions> storeOptions,
        IConfiguration configuration, ScoringService scoring, ILogger<DeploymentRuntime> logger)
    {
        _stores = stores;
        _options = options.Value;
        _scoring = scoring;
        _logger = logger;
        // The server's home: CAIRN_HOME, else the folder its embedded store lives in, else .cairn.
        var home = configuration["CAIRN_HOME"] is { Length: > 0 } h ? h
            : storeOptions.Value.BackendStoreUri is { Length: > 0 } store && Directory.Exists(store) ? store : ".cairn";
        _cache = Path.GetFullPath(_options.CacheFolder ?? Path.Combine(home, "deployments-cache"));
        var destination = storeOptions.Value.ArtifactsDestination;
        _artifactsDestination = destination is not null && !destination.Contains("://", StringComparison.Ordinal) ? Path.GetFullPath(destination) : null;
        _shadowSlots = new SemaphoreSlim(_options.MaxShadowsInFlight, _options.MaxShadowsInFlight);
    }

    /// <summary>Where fetched model packages go (the monitor fetches into it too).</summary>
    internal string CacheFolder => _cache;

    /// <summary>The artifacts destination when it is a local folder (packages there are used in place), else null.</summary>
    internal string? ArtifactsDestination => _artifactsDestination;

    /// <summary>Shadow scorings that failed (logged, never seen by callers).</summary>
    public long ShadowFailures => Interlocked.Read(ref _shadowFailures);

    /// <summary>Shadow scorings skipped because <see cref="DeploymentRuntimeOptions.MaxShadowsInFlight"/> were running.</summary>
    public long ShadowsSkipped => Interlocked.Read(ref _shadowsSkipped);

    /// <summary>Why the refresh loop stopped, when it died; null while it runs.</summary>
    public string? LoopFailure { get; private set; }

    /// <summary>
    /// The deployments whose last refresh failed (they keep serving their previous snapshot) or whose first load failed (their
    /// requests get 503 until a load succeeds), with the reason.
    /// </summary>
    public IReadOnlyDictionary<string, string> Problems
    {
        get
        {
            var problems = new Dictionary<string, string>(_loadFailures, StringComparer.Ordinal);
            foreach (var (name, entry) in _entries)
                if (entry.Problem is { } problem) problems[name] = problem;
            return problems;
        }
    }

    /// <summary>The current snapshot of <paramref name="name"/>, loaded on first use, with a reference the caller releases.</summary>
    public async Task<DeploymentSnapshot> AcquireAsync(string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            var entry = _entries.GetOrAdd(name, n => new Entry(n, this));
            if (entry.Current is { } current)
            {
                if (current.TryAcquire()) return current;
                continue; // swapped out between the read and the reference: read again
            }
            try
            {
                await entry.FirstLoad.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The next request tries again from scratch.
                _entries.TryRemove(new KeyValuePair<string, Entry>(name, entry));
                if (e is CairnException) throw;
                throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, $"Deployment '{name}' could not be read: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Scores the request's copy with each shadow route of <paramref name="snapshot"/>, off the request path: the outputs go
    /// to the prediction log only (shadow set); failures are logged and counted. When the shadow slots are all busy the
    /// shadow is skipped and counted; the caller never waits.
    /// </summary>
    public void RunShadows(DeploymentSnapshot snapshot, string requestId, Func<ServedModel, ColumnBatch> parse)
    {
        foreach (var shadow in snapshot.Shadows)
        {
            if (!_shadowSlots.Wait(0))
            {
                Interlocked.Increment(ref _shadowsSkipped);
                ScoringMetrics.ShadowsSkipped.Add(1, new KeyValuePair<string, object?>(ScoringMetrics.DeploymentTag, snapshot.Deployment.Name));
                continue;
            }
            if (!snapshot.TryAcquire())
            {
                _shadowSlots.Release();
                return;
            }
            var name = snapshot.Deployment.Name;
            _ = Task.Run(() =>
            {
                var time = DateTimeOffset.UtcNow;
                var start = System.Diagnostics.Stopwatch.GetTimestamp();
                try
                {
                    var input = parse(shadow.Model);
                    var output = ScoringService.Score(shadow.Model, input);
                    _scoring.Log(requestId, shadow.Model, name, time, System.Diagnostics.Stopwatch.GetElapsedTime(start), input, output, shadow: true,
                        sampleRate: snapshot.Deployment.LogSampleRate);
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref _shadowFailures);
                    ScoringMetrics.ShadowFailures.Add(1, new KeyValuePair<string, object?>(ScoringMetrics.DeploymentTag, name),
                        new KeyValuePair<string, object?>(ScoringMetrics.ModelTag, shadow.Model.Name), new KeyValuePair<string, object?>(ScoringMetrics.VersionTag, shadow.Model.VersionLabel));
                    LogShadowFailed(_logger, e, name, shadow.Model.Name, shadow.Model.VersionLabel, requestId);
                }
                finally
                {
                    snapshot.Release();
                    _shadowSlots.Release();
                }
            });
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.RefreshSeconds));
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var entry in _entries.Values)
                {
                    if (entry.Current is null) continue;
                    try
                    {
                        await RefreshOneAsync(entry, stoppingToken).ConfigureAwait(false);
                        entry.Problem = null;
                    }
                    catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception e)
                    {
                        entry.Problem = $"keeps its previous models: {e.Message}";
                        LogRefreshFailed(_logger, e, entry.Name);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            LoopFailure = e.Message;
            LogLoopDied(_logger, e);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        foreach (var entry in _entries.Values) Interlocked.Exchange(ref entry.Current, null)?.Release();
        _entries.Clear();
    }

    /// <summary>
    /// Re-reads <paramref name="name"/> at once when this server has it loaded, so a change made through this server serves
    /// before its answer returns (other replicas follow within <see cref="DeploymentRuntimeOptions.RefreshSeconds"/>). A
    /// failure is not the caller's: the change is stored, the previous models keep serving and readiness shows why.
    /// </summary>
    public async Task RefreshNowAsync(string name, CancellationToken cancellationToken)
    {
        // A deployment that failed to load is tried afresh by its next request, with the routing just written.
        _loadFailures.TryRemove(name, out _);
        if (!_entries.TryGetValue(name, out var entry) || entry.Current is null) return;
        try
        {
            await RefreshOneAsync(entry, cancellationToken).ConfigureAwait(false);
            entry.Problem = null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller went away; the background loop picks the change up.
        }
        catch (Exception e)
        {
            entry.Problem = $"keeps its previous models: {e.Message}";
            LogRefreshFailed(_logger, e, entry.Name);
        }
    }

    /// <summary>One refresh of an entry at a time (the loop and a change made through this server may meet).</summary>
    private async Task RefreshOneAsync(Entry entry, CancellationToken cancellationToken)
    {
        await entry.Refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (entry.Current is not null) await RefreshAsync(entry, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            entry.Refreshing.Release();
        }
    }

    /// <summary>Swaps in a new snapshot when the deployment's revision or a route's alias target changed.</summary>
    private async Task RefreshAsync(Entry entry, CancellationToken cancellationToken)
    {
        var current = entry.Current!;
        Deployment deployment;
        try
        {
            deployment = await _stores.Inner.Deployments.GetDeploymentAsync(entry.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (CairnException e) when (e.ErrorCode == ErrorCode.RESOURCE_DOES_NOT_EXIST)
        {
            // Deleted: stop serving it; requests in flight finish on the snapshot they hold.
            if (_entries.TryRemove(new KeyValuePair<string, Entry>(entry.Name, entry)))
                Interlocked.Exchange(ref entry.Current, null)?.Release();
            return;
        }
        var versions = await ResolveAsync(deployment, cancellationToken).ConfigureAwait(false);
        if (deployment.Revision == current.Deployment.Revision && SameVersions(versions, current.Versions)) return;
        var next = await BuildAsync(deployment, versions, current, cancellationToken).ConfigureAwait(false);
        var previous = Interlocked.Exchange(ref entry.Current, next);
        previous?.Release();
        LogSwapped(_logger, entry.Name, deployment.Revision, string.Join(", ", versions.Select(v => $"{v.Key} -> {v.Value}")));
    }

    private static bool SameVersions(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var v) && v == p.Value);

    private async Task<DeploymentSnapshot> LoadFirstAsync(Entry entry)
    {
        var deployment = await _stores.Inner.Deployments.GetDeploymentAsync(entry.Name, CancellationToken.None).ConfigureAwait(false);
        IReadOnlyDictionary<string, string> versions;
        DeploymentSnapshot snapshot;
        try
        {
            versions = await ResolveAsync(deployment, CancellationToken.None).ConfigureAwait(false);
            snapshot = await BuildAsync(deployment, versions, null, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A route that does not resolve or a package that does not load is the server's state, not the caller's input.
            LogLoadFailed(_logger, e, entry.Name);
            _loadFailures[entry.Name] = $"its models could not load: {e.Message}";
            throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, $"Deployment '{entry.Name}' could not load its models: {e.Message}");
        }
        Volatile.Write(ref entry.Current, snapshot);
        _loadFailures.TryRemove(entry.Name, out _);
        LogLoaded(_logger, entry.Name, deployment.Revision, string.Join(", ", versions.Select(v => $"{v.Key} -> {v.Value}")));
        return snapshot;
    }

    /// <summary>The version each route URI names now (an alias is read from the registry).</summary>
    private async Task<IReadOnlyDictionary<string, string>> ResolveAsync(Deployment deployment, CancellationToken cancellationToken)
    {
        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var route in deployment.Routes)
        {
            if (versions.ContainsKey(route.ModelUri)) continue;
            var version = await ModelUri.FindVersionAsync(ModelUri.Parse(route.ModelUri, "model_uri"), _stores.Registry, cancellationToken).ConfigureAwait(false);
            versions[route.ModelUri] = version.Version;
        }
        return versions;
    }

    /// <summary>Loads and warms every model the routes need (reusing <paramref name="previous"/>'s where the version is the same).</summary>
    private async Task<DeploymentSnapshot> BuildAsync(Deployment deployment, IReadOnlyDictionary<string, string> versions, DeploymentSnapshot? previous,
        CancellationToken cancellationToken)
    {
        var held = new Dictionary<string, LoadedModel>(StringComparer.Ordinal);
        var reusable = previous is null ? new Dictionary<string, LoadedModel>() : previous.Primaries.Concat(previous.Shadows).Distinct()
            .ToDictionary(m => Key(m.Model.Name, m.Model.Version!), StringComparer.Ordinal);
        try
        {
            async Task<LoadedModel> ModelFor(DeploymentRoute route)
            {
                var name = DeploymentValidator.ModelName(route);
                var key = Key(name, versions[route.ModelUri]);
                if (held.TryGetValue(key, out var have)) return have;
                if (reusable.TryGetValue(key, out var old))
                {
                    old.AddReference();
                    held[key] = old;
                    return old;
                }
                var loaded = await LoadAsync(name, versions[route.ModelUri], cancellationToken).ConfigureAwait(false);
                held[key] = loaded;
                return loaded;
            }

            var router = new DeploymentRouter(deployment);
            var primaries = new LoadedModel[router.Primaries.Count];
            for (var i = 0; i < primaries.Length; i++) primaries[i] = await ModelFor(router.Primaries[i]).ConfigureAwait(false);
            var shadows = new LoadedModel[router.Shadows.Count];
            for (var i = 0; i < shadows.Length; i++) shadows[i] = await ModelFor(router.Shadows[i]).ConfigureAwait(false);
            return new DeploymentSnapshot(deployment, primaries, shadows, versions);
        }
        catch
        {
            foreach (var model in held.Values) model.Release();
            throw;
        }
    }

    private static string Key(string name, string version) => name + "\n" + version;

    /// <summary>Fetches version <paramref name="version"/> of <paramref name="name"/>, loads it and scores its input example.</summary>
    private async Task<LoadedModel> LoadAsync(string name, string version, CancellationToken cancellationToken)
    {
        var scratch = Path.Combine(_cache, Guid.NewGuid().ToString("N"));
        var uri = $"models:/{name}/{version}";
        using var client = CairnClient.OverStores(_stores.Inner, _artifactsDestination);
        ServedModel? model = null;
        try
        {
            var location = await client.LocateModelAsync(uri, scratch, "model_uri", cancellationToken).ConfigureAwait(false);
            model = ServedModel.Load(location.Folder, name, version, uri);
            Warm(model, location.Folder);
            return new LoadedModel(model, Directory.Exists(scratch) ? scratch : null);
        }
        catch
        {
            model?.Dispose();
            try { if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Scores the package's input example once, so the first request does not pay for the engines' start.</summary>
    private static void Warm(ServedModel model, string folder)
    {
        if (model.Manifest?.InputExample is not { Length: > 0 } example) return;
        var path = Path.GetFullPath(Path.Combine(folder, example));
        if (!path.StartsWith(Path.GetFullPath(folder), StringComparison.Ordinal) || !File.Exists(path)) return;
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        ColumnBatch input;
        if (root.ValueKind == JsonValueKind.Object && (root.TryGetProperty("dataframe_split", out _) || root.TryGetProperty("dataframe_records", out _)
            || root.TryGetProperty("instances", out _) || root.TryGetProperty("inputs", out _)))
            input = ScoringRequestParser.ParseJson(root, model).Batch;
        else
        {
            // MLflow writes a dataframe example as the split object itself ({"columns": [...], "data": [...]}).
            using var wrapped = JsonDocument.Parse("{\"dataframe_split\":" + root.GetRawText() + "}");
            input = ScoringRequestParser.ParseJson(wrapped.RootElement, model).Batch;
        }
        ScoringService.Score(model, input);
    }

    private sealed class Entry
    {
        public Entry(string name, DeploymentRuntime runtime)
        {
            Name = name;
            FirstLoad = new Lazy<Task<DeploymentSnapshot>>(() => Task.Run(() => runtime.LoadFirstAsync(this)));
        }

        public string Name { get; }

        public DeploymentSnapshot? Current;

        public Lazy<Task<DeploymentSnapshot>> FirstLoad { get; }

        public volatile string? Problem;

        public SemaphoreSlim Refreshing { get; } = new(1, 1);
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Deployment {Name} loaded at revision {Revision}: {Versions}")]
    private static partial void LogLoaded(ILogger logger, string name, long revision, string versions);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Deployment {Name} now serves revision {Revision}: {Versions}")]
    private static partial void LogSwapped(ILogger logger, string name, long revision, string versions);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Error, Message = "Deployment {Name} could not load its models")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string name);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "Deployment {Name} could not refresh; it keeps serving its previous models")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception, string name);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Critical, Message = "The deployments' refresh loop died; deployments no longer follow their routes or aliases")]
    private static partial void LogLoopDied(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Shadow model {Model} version {Version} of deployment {Name} failed on request {RequestId}")]
    private static partial void LogShadowFailed(ILogger logger, Exception exception, string name, string model, string version, string requestId);
}

/// <summary>Readiness of the deployments' data plane: unhealthy when the refresh loop died, degraded while a deployment cannot refresh.</summary>
internal sealed class DeploymentRuntimeHealthCheck(DeploymentRuntime runtime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (runtime.LoopFailure is { } failure) return Task.FromResult(HealthCheckResult.Unhealthy($"The deployments' refresh loop died: {failure}"));
        var problems = runtime.Problems;
        return Task.FromResult(problems.Count == 0 ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded(string.Join("; ", problems.Select(p => $"deployment '{p.Key}': {p.Value}"))));
    }
}
