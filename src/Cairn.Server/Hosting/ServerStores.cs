using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Registry;
using Cairn.Server.Diagnostics;
using Cairn.Storage;
using Cairn.Tracking;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The stores the server answers from, opened by the host as it starts (before it listens) and disposed after it
/// stopped listening, so no request runs against a closed store. Resolving a store before the host started is a
/// programming error and says so.
/// </summary>
internal sealed partial class ServerStores(IOptions<ServerStoreOptions> options, S3ConnectionOptions? s3 = null, ILogger<ServerStores>? logger = null)
    : IHostedLifecycleService, IDisposable
{
    /// <summary>A partial upload file not written to for this long belongs to an upload that died with its process.</summary>
    internal static readonly TimeSpan StalePartialUpload = TimeSpan.FromHours(1);

    private Cairn.Storage.CairnStores? _inner;
    private ITrackingStore? _tracking;
    private IRegistryStore? _registry;
    private IArtifactStore? _artifactsInner;
    private IArtifactStore? _artifacts;
    private List<IArtifactStore> _allowedRoots = [];
    private ArtifactLocationResolver? _resolver;

    public ITrackingStore Tracking => _tracking ?? throw NotOpen();

    public IRegistryStore Registry => _registry ?? throw NotOpen();

    /// <summary>Users and access tokens (access control), on the same database.</summary>
    public Cairn.Auth.IUserStore Users => Inner.Users;

    /// <summary>The stores underneath the instrumentation (the health check asks the database about its writer).</summary>
    public Cairn.Storage.CairnStores Inner => _inner ?? throw NotOpen();

    public IArtifactStore Artifacts => _artifacts ?? throw NotOpen();

    /// <summary>Maps artifact locations into the roots the server manages: the destination and the allowed roots.</summary>
    public ArtifactLocationResolver Resolver => _resolver ?? throw NotOpen();

    /// <summary>The clean-up of partial uploads left by a killed process, started as the host starts (tests wait for it).</summary>
    internal Task<long> Sweep { get; private set; } = Task.FromResult(0L);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var store = options.Value;
        // Options validation guarantees both are set; the "mlflow-artifacts:" root makes new experiments use the proxy.
        _inner = await Cairn.Storage.CairnStores.OpenAsync(store.BackendStoreUri!,
            new CairnStoreOptions { DefaultArtifactRoot = "mlflow-artifacts:" }, cancellationToken).ConfigureAwait(false);
        // Each store gets its own timing proxy.
        _tracking = StoreInstrumentation.Wrap(_inner.Tracking);
        _registry = StoreInstrumentation.Wrap(_inner.Registry);
        _artifactsInner = ArtifactStores.Open(store.ArtifactsDestination!, s3);
        _artifacts = StoreInstrumentation.Wrap(_artifactsInner);
        foreach (var root in ArtifactStores.SplitRoots(store.AllowedArtifactRoots))
            _allowedRoots.Add(ArtifactStores.Open(root, s3));
        // The resolver compares locations with the stores themselves (their real roots), not the timing proxies.
        _resolver = new ArtifactLocationResolver(_artifactsInner, _allowedRoots);
        if (_artifactsInner is LocalArtifactStore local)
            Sweep = Task.Run(() => SweepPartialUploads(local), CancellationToken.None);
    }

    private long SweepPartialUploads(LocalArtifactStore local)
    {
        try
        {
            var removed = local.SweepPartialUploads(StalePartialUpload);
            if (removed > 0 && logger is not null) LogSwept(logger, removed, local.Root);
            return removed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (logger is not null) LogSweepFailed(logger, e, local.Root);
            return 0;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The server has stopped taking requests by now: flush and close the stores.</summary>
    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Also run by the container, for a host whose start failed after the stores opened.</summary>
    public void Dispose()
    {
        _artifacts = null;
        _resolver = null;
        (Interlocked.Exchange(ref _artifactsInner, null) as IDisposable)?.Dispose();
        foreach (var root in Interlocked.Exchange(ref _allowedRoots, [])) (root as IDisposable)?.Dispose();
        _tracking = null;
        _registry = null;
        Interlocked.Exchange(ref _inner, null)?.Dispose();
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Removed {Count} partial upload file(s) left by an earlier process under {Root}")]
    private static partial void LogSwept(ILogger logger, long count, string root);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Could not sweep partial upload files under {Root}")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception, string root);

    private static InvalidOperationException NotOpen() =>
        new("The Cairn stores are not open: they are opened when the host starts (AddCairnServer registers them as a hosted service).");
}
