namespace Cairn.Artifacts;

/// <summary>
/// Artifacts in a local folder. Writes stream into a hidden partial file next to the destination and are renamed
/// into place, so a failed or cancelled upload never leaves a half-written artifact behind.
/// </summary>
public sealed class LocalArtifactStore : IArtifactStore
{
    /// <summary>Suffix of in-flight uploads; hidden from listings and refused as an artifact name.</summary>
    internal const string PartialSuffix = ".cairn-partial";

    private const int BufferSize = 128 * 1024;

    private readonly string _realRoot;

    /// <summary>Uses <paramref name="root"/> as the store's root; it is created on the first write.</summary>
    public LocalArtifactStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = Path.GetFullPath(root);
        _realRoot = ArtifactPath.RealPath(Root);
    }

    /// <summary>The absolute root folder.</summary>
    public string Root { get; }

    /// <summary>The root with every symbolic link followed: what paths are checked against.</summary>
    internal string RealRoot => _realRoot;

    public Task<IReadOnlyList<ArtifactFileInfo>> ListAsync(string? path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var relative = ArtifactPath.Normalize(path);
        var directory = new DirectoryInfo(ArtifactPath.ResolveWithin(_realRoot, relative));
        if (!directory.Exists) return Task.FromResult<IReadOnlyList<ArtifactFileInfo>>([]);

        var entries = new List<ArtifactFileInfo>();
        foreach (var entry in directory.EnumerateFileSystemInfos())
        {
            if (entry.Name.EndsWith(PartialSuffix, StringComparison.Ordinal)) continue;
            var entryPath = ArtifactPath.Join(relative, entry.Name);
            FileSystemInfo target = entry;
            if (entry.LinkTarget is not null)
            {
                // A link leading out of the root is not ours to describe: listing it would leak the outside's shape.
                var real = ArtifactPath.RealPath(entry.FullName);
                if (!ArtifactPath.IsWithin(_realRoot, real)) continue;
                target = Directory.Exists(real) ? new DirectoryInfo(real) : new FileInfo(real);
                if (!target.Exists) continue;
            }
            entries.Add(target is DirectoryInfo
                ? new ArtifactFileInfo(entryPath, IsDir: true, FileSize: null)
                : new ArtifactFileInfo(entryPath, IsDir: false, ((FileInfo)target).Length));
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return Task.FromResult<IReadOnlyList<ArtifactFileInfo>>(entries);
    }

    public Task<Stream> OpenReadAsync(string path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var relative = RequireFilePath(path);
        var full = ArtifactPath.ResolveWithin(_realRoot, relative);
        if (Directory.Exists(full))
            throw new InvalidParameterValueException($"Invalid value '{relative}' for parameter 'path': it is a directory; list it instead of downloading it.");
        try
        {
            Stream stream = new FileStream(full, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                BufferSize = 0, // callers copy in large chunks; a second buffer would only add a copy
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
            return Task.FromResult(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ResourceDoesNotExistException($"Artifact '{relative}' does not exist.");
        }
    }

    public async Task<long> WriteAsync(string path, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var relative = RequireFilePath(path);
        if (relative.EndsWith(PartialSuffix, StringComparison.Ordinal))
            throw new InvalidParameterValueException($"Invalid value '{relative}' for parameter 'path': names ending in '{PartialSuffix}' are reserved for uploads in progress.");
        var full = ArtifactPath.ResolveWithin(_realRoot, relative);
        if (Directory.Exists(full))
            throw new InvalidParameterValueException($"Invalid value '{relative}' for parameter 'path': a directory of that name already exists.");
        var directory = Path.GetDirectoryName(full)!; // full is under the root, so it has a parent
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (IOException e)
        {
            throw new InvalidParameterValueException($"Invalid value '{relative}' for parameter 'path': a parent of it is a file, not a directory ({e.Message}).");
        }

        var partial = Path.Join(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}{PartialSuffix}");
        long written = 0;
        try
        {
            await using (var output = new FileStream(partial, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            }))
            {
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
                try
                {
                    int read;
                    while ((read = await content.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        written += read;
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
                // Durable before it becomes visible: after a crash the artifact is either the old one or complete.
                output.Flush(flushToDisk: true);
            }
            // rename(2) replaces the destination atomically (a link at the destination is replaced, not followed).
            File.Move(partial, full, overwrite: true);
        }
        catch
        {
            TryDelete(partial);
            throw;
        }
        return written;
    }

    public Task<bool> DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var relative = RequireFilePath(path);
        return Task.FromResult(DeleteResolved(relative) is not null);
    }

    public Task<long> DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var relative = ArtifactPath.Normalize(prefix, "prefix");
        if (relative.Length == 0)
            throw new InvalidParameterValueException("Invalid value '' for parameter 'prefix': refusing to delete the whole artifact root.");
        return Task.FromResult(DeleteResolved(relative) ?? 0);
    }

    /// <summary>Deletes a file or folder; returns how many files went, or null when nothing was there.</summary>
    private long? DeleteResolved(string relative)
    {
        var full = ArtifactPath.ResolveWithin(_realRoot, relative);
        if (File.Exists(full))
        {
            File.Delete(full);
            return 1;
        }
        if (!Directory.Exists(full)) return null;
        var files = CountFiles(new DirectoryInfo(full));
        // Directory.Delete removes a link below this point, never what it points to.
        Directory.Delete(full, recursive: true);
        return files;
    }

    /// <summary>Regular files under a folder, without descending into links (which may lead out of the root).</summary>
    private static long CountFiles(DirectoryInfo directory)
    {
        long count = 0;
        foreach (var entry in directory.EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget is not null) continue;
            count += entry is DirectoryInfo child ? CountFiles(child) : 1;
        }
        return count;
    }

    /// <summary>
    /// Deletes the partial files of uploads that ended without cleaning up (the process was killed mid-upload) and
    /// were last written more than <paramref name="olderThan"/> ago, so an upload still streaming in another process
    /// sharing the folder is left alone. Returns how many went. Links are not followed.
    /// </summary>
    public long SweepPartialUploads(TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        var root = new DirectoryInfo(_realRoot);
        if (!root.Exists) return 0;
        var cutoff = DateTime.UtcNow - olderThan;
        long removed = 0;
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = FileAttributes.ReparsePoint, // never walk through a link out of the root
            IgnoreInaccessible = true,
        };
        foreach (var file in root.EnumerateFiles("*" + PartialSuffix, options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (file.LastWriteTimeUtc > cutoff) continue;
            try
            {
                file.Delete();
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another sweeper or the upload's own clean-up got there first, or it is not ours to delete.
            }
        }
        return removed;
    }

    private static string RequireFilePath(string path)
    {
        var relative = ArtifactPath.Normalize(path);
        return relative.Length == 0
            ? throw new InvalidParameterValueException("Missing value for required parameter 'path': an artifact path is needed, not the root.")
            : relative;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Leaves a hidden partial file that listings skip; the original error is the one worth reporting.
        }
    }
}
