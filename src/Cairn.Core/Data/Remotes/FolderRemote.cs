namespace Cairn.Data.Remotes;

/// <summary>A remote on a local or shared (NFS, SMB) folder.</summary>
public sealed class FolderRemote : IDataRemote
{
    private readonly string _root;

    /// <summary>Creates a remote storing objects under <paramref name="root"/>.</summary>
    public FolderRemote(string name, string root)
    {
        Name = name;
        _root = root;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string Location => _root;

    private string PathOf(string digest) => Path.Combine(_root, digest[..2], digest[2..]);

    /// <inheritdoc/>
    public Task<Dictionary<string, long>> StatAsync(IReadOnlyCollection<string> digests, CancellationToken cancellationToken = default)
        => Task.Run(() =>
        {
            var found = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var d in digests)
            {
                var fi = new FileInfo(PathOf(d));
                if (fi.Exists) found[d] = fi.Length;
            }
            return found;
        }, cancellationToken);

    /// <inheritdoc/>
    public async Task UploadAsync(string digest, string localPath, IProgress<long>? bytes, CancellationToken cancellationToken = default)
    {
        string dest = PathOf(digest);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        string tmp = dest + "." + Guid.NewGuid().ToString("N")[..8] + ".part";
        try
        {
            await using (var src = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan))
            await using (var dst = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous))
            {
                await StreamCopy.CopyAsync(src, dst, bytes, cancellationToken).ConfigureAwait(false);
            }
            File.Move(tmp, dest, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <inheritdoc/>
    public async Task DownloadAsync(string digest, Stream destination, IProgress<long>? bytes, CancellationToken cancellationToken = default)
    {
        string path = PathOf(digest);
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"object {digest[..12]} is not on remote '{Name}' ({_root})");
        await using var src = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await StreamCopy.CopyAsync(src, destination, bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}

internal static class StreamCopy
{
    public static async Task CopyAsync(Stream src, Stream dst, IProgress<long>? bytes, CancellationToken ct)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int n;
            while ((n = await src.ReadAsync(buffer.AsMemory(0, 1 << 20), ct).ConfigureAwait(false)) > 0)
            {
                await dst.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                bytes?.Report(n);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
