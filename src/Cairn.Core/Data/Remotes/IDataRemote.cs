namespace Cairn.Data.Remotes;

/// <summary>
/// Where cache objects are shared: a folder or an S3-compatible bucket, laid out like the cache
/// (<c>ab/cdef…</c>). Implementations only move bytes; <see cref="DataTransfer"/> decides what to move and verifies it.
/// </summary>
public interface IDataRemote : IDisposable
{
    /// <summary>The remote's name in the config.</summary>
    string Name { get; }

    /// <summary>A human-readable location (folder path or s3://bucket/prefix).</summary>
    string Location { get; }

    /// <summary>Which of <paramref name="digests"/> the remote already holds, with their stored sizes (to spot truncated objects).</summary>
    Task<Dictionary<string, long>> StatAsync(IReadOnlyCollection<string> digests, CancellationToken cancellationToken = default);

    /// <summary>Uploads a local file as object <paramref name="digest"/>; the object appears only when complete.</summary>
    Task UploadAsync(string digest, string localPath, IProgress<long>? bytes, CancellationToken cancellationToken = default);

    /// <summary>Copies object <paramref name="digest"/> into <paramref name="destination"/>; throws <see cref="ResourceDoesNotExistException"/> when absent.</summary>
    Task DownloadAsync(string digest, Stream destination, IProgress<long>? bytes, CancellationToken cancellationToken = default);
}

/// <summary>Receives transfer progress; calls may come from several threads at once.</summary>
public interface ITransferProgress
{
    /// <summary>The transfer is about to move <paramref name="files"/> objects totalling <paramref name="bytes"/>.</summary>
    void Started(int files, long bytes);
    /// <summary>More bytes moved.</summary>
    void Advance(long bytes);
    /// <summary>One more object completed.</summary>
    void FileCompleted();
}

/// <summary>Creates remotes from their configuration.</summary>
public static class DataRemoteFactory
{
    /// <summary>Builds the remote named <paramref name="name"/>; relative folder paths are resolved against <paramref name="baseDir"/>.</summary>
    public static IDataRemote Create(string name, RemoteConfig config, string baseDir)
    {
        string url = config.Url;
        if (string.IsNullOrWhiteSpace(url)) throw new InvalidParameterValueException($"remote '{name}': field 'url' is required");
        if (url.StartsWith("s3://", StringComparison.OrdinalIgnoreCase)) return new S3Remote(name, config);
        if (url.Contains("://", StringComparison.Ordinal) && !url.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidParameterValueException($"remote '{name}': url '{url}' is not supported (use a folder path, file:// or s3://bucket/prefix)");
        }
        string path = url.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(url).LocalPath : url;
        return new FolderRemote(name, Path.GetFullPath(path, baseDir));
    }
}
