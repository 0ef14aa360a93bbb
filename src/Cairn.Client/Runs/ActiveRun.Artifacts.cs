namespace Cairn.Client;

/// <summary>Artifacts of the run, through its <see cref="IRunArtifactWriter"/> (MLflow's <c>log_artifact</c> and <c>log_artifacts</c>).</summary>
public sealed partial class ActiveRun
{
    /// <summary>
    /// Uploads a local file, or a folder with everything under it, into the run's artifacts under <paramref name="artifactPath"/>
    /// (null for the root; a file keeps its name). Synchronous, not queued: the files are in the store when it returns.
    /// Returns the artifact paths written. Blocks; async code should prefer <see cref="LogArtifactAsync"/>.
    /// </summary>
    public IReadOnlyList<string> LogArtifact(string localPath, string? artifactPath = null) =>
        Task.Run(() => LogArtifactAsync(localPath, artifactPath)).GetAwaiter().GetResult();

    /// <summary>Uploads a file or a folder into the run's artifacts; see <see cref="LogArtifact"/>.</summary>
    public Task<IReadOnlyList<string>> LogArtifactAsync(string localPath, string? artifactPath = null, CancellationToken cancellationToken = default)
    {
        ThrowIfEnded();
        if (_artifacts is null)
            throw new CairnException(ErrorCode.NOT_IMPLEMENTED,
                $"Run {RunId} was started without an artifact writer: pass one to ActiveRun.Attach/StartAsync, or log through a server (HttpTrackingStore).");
        return _artifacts.LogArtifactAsync(Info, localPath, artifactPath, cancellationToken);
    }

    /// <summary>
    /// Uploads the content of folder <paramref name="localFolder"/> (not the folder itself, as MLflow's <c>log_artifacts</c>)
    /// under <paramref name="artifactPath"/>. Returns the artifact paths written.
    /// </summary>
    public IReadOnlyList<string> LogArtifacts(string localFolder, string? artifactPath = null) =>
        Task.Run(() => LogArtifactsAsync(localFolder, artifactPath)).GetAwaiter().GetResult();

    /// <summary>Uploads the content of a folder into the run's artifacts; see <see cref="LogArtifacts"/>.</summary>
    public Task<IReadOnlyList<string>> LogArtifactsAsync(string localFolder, string? artifactPath = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localFolder);
        if (!Directory.Exists(localFolder)) throw new ResourceDoesNotExistException($"Cannot log artifacts of '{localFolder}': no such folder.");
        return LogArtifactAsync(localFolder, artifactPath, cancellationToken);
    }
}
