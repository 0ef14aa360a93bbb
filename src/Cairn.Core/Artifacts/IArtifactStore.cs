namespace Cairn.Artifacts;

/// <summary>One entry of a directory listing, as MLflow's <c>FileInfo</c>.</summary>
/// <param name="Path">Relative to the store's root, '/'-separated.</param>
/// <param name="IsDir">True for a directory.</param>
/// <param name="FileSize">Size in bytes; null for a directory.</param>
public sealed record ArtifactFileInfo(string Path, bool IsDir, long? FileSize);

/// <summary>
/// Where artifacts live: a local folder (<see cref="LocalArtifactStore"/>) or an S3 bucket (<see cref="S3ArtifactStore"/>). Every path is relative to the store's root, '/'-separated,
/// and goes through <see cref="ArtifactPath.Normalize"/>, so a bad path is refused the same way by every store.
/// </summary>
public interface IArtifactStore
{
    /// <summary>
    /// The direct children of the directory <paramref name="path"/> ("" for the root), sorted by path.
    /// A missing directory, or a file, lists as empty (MLflow's behaviour).
    /// </summary>
    Task<IReadOnlyList<ArtifactFileInfo>> ListAsync(string? path, CancellationToken cancellationToken = default);

    /// <summary>Opens a file for streaming reads. Throws <see cref="ResourceDoesNotExistException"/> when it is missing.</summary>
    Task<Stream> OpenReadAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams <paramref name="content"/> into the file <paramref name="path"/>, replacing it atomically:
    /// readers see the old file or the whole new one, never a part. Returns the number of bytes written.
    /// </summary>
    Task<long> WriteAsync(string path, Stream content, CancellationToken cancellationToken = default);

    /// <summary>Deletes a file or a directory with everything under it. Returns false when nothing was there.</summary>
    Task<bool> DeleteAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes everything under <paramref name="prefix"/> (used by gc). Returns how many files were removed.
    /// The root itself ("") is refused so a bad location can never wipe the whole store.
    /// </summary>
    Task<long> DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default);
}
