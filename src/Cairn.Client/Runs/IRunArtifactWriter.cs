using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>Uploads local files into a run's artifacts: what <see cref="ActiveRun.LogArtifact"/> calls.</summary>
public interface IRunArtifactWriter
{
    /// <summary>
    /// Uploads a file, or a folder with everything under it, into <paramref name="run"/>'s artifacts under
    /// <paramref name="artifactPath"/> (null for the root; a file keeps its name). Returns the artifact paths written.
    /// </summary>
    Task<IReadOnlyList<string>> LogArtifactAsync(RunInfo run, string localPath, string? artifactPath = null, CancellationToken cancellationToken = default);
}
