using Cairn.Serving;

namespace Cairn.Server.Scoring;

/// <summary>A loaded model shared by the snapshots that route to it; disposed (and its fetched files removed) when the last one lets go.</summary>
internal sealed class LoadedModel(ServedModel model, string? scratch)
{
    private int _references = 1;

    public ServedModel Model => model;

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        model.Dispose();
        if (scratch is null) return;
        try { Directory.Delete(scratch, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { /* a leftover in the cache is harmless */ }
    }
}

/// <summary>
/// What one revision of a deployment serves, never changed once built: the router, the loaded model of each primary route
/// (same order as <see cref="DeploymentRouter.Primaries"/>) and of each shadow route, and the version each route URI resolved
/// to. Requests hold a reference while they use it; the runtime holds one while it is current; the models go when all let go.
/// </summary>
internal sealed class DeploymentSnapshot
{
    private int _references = 1;

    public DeploymentSnapshot(Deployment deployment, LoadedModel[] primaries, LoadedModel[] shadows, IReadOnlyDictionary<string, string> versions)
    {
        Deployment = deployment;
        Router = new DeploymentRouter(deployment);
        Primaries = primaries;
        Shadows = shadows;
        Versions = versions;
    }

    public Deployment Deployment { get; }

    public DeploymentRouter Router { get; }

    public LoadedModel[] Primaries { get; }

    public LoadedModel[] Shadows { get; }

    /// <summary>Route URI to the model version it resolved to when this snapshot was built.</summary>
    public IReadOnlyDictionary<string, string> Versions { get; }

    /// <summary>Takes a reference unless the snapshot has already been let go of.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current == 0) return false;
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current) return true;
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0) return;
        foreach (var model in Primaries.Concat(Shadows).Distinct()) model.Release();
    }
}
