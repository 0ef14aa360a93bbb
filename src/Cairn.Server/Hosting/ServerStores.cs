using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Registry;
using Cairn.Server.Diagnostics;
using Cairn.Storage;
using Cairn.Tracking;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Hosting;

/// <summary>
/// The stores the server answers from, opened by the host as it starts (before it listens) and disposed after it
/// stopped listening, so no request runs against a closed store. Resolving a store before the host started is a
/// programming error and says so.
/// </summary>
internal sealed class ServerStores(IOptions<ServerStoreOptions> options, S3ConnectionOptions? s3 = null) : IHostedLifecycleService, IDisposable
{
    private Cairn.Storage.CairnStores? _inner;
    private ITrackingStore? _tracking;
    private IRegistryStore? _registry;
    private IArtifactStore? _artifactsInner;
    private IArtifactStore? _artifacts;

    public ITrackingStore Tracking => _tracking ?? throw NotOpen();

    public IRegistryStore Registry => _registry ?? throw NotOpen();

    /// <summary>Users and access tokens (access control), on the same database.</summary>
    public Cairn.Auth.IUserStore Users => Inner.Users;

    /// <summary>The stores underneath the instrumentation (the health check asks the database about its writer).</summary>
    public Cairn.Storage.CairnStores Inner => _inner ?? throw NotOpen();

    public IArtifactStore Artifacts => _artifacts ?? throw NotOpen();

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
        (Interlocked.Exchange(ref _artifactsInner, null) as IDisposable)?.Dispose();
        _tracking = null;
        _registry = null;
        Interlocked.Exchange(ref _inner, null)?.Dispose();
    }

    private static InvalidOperationException NotOpen() =>
        new("The Cairn stores are not open: they are opened when the host starts (AddCairnServer registers them as a hosted service).");
}
