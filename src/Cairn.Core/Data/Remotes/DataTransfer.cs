using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Cairn.Data.Remotes;

/// <summary>What a push or fetch did.</summary>
/// <param name="Transferred">Objects moved.</param>
/// <param name="Skipped">Objects already on the other side.</param>
/// <param name="Bytes">Bytes moved.</param>
public sealed record TransferResult(int Transferred, int Skipped, long Bytes);

/// <summary>
/// Moves cache objects between the local cache and a remote: in parallel, skipping what the other side
/// already has, files before the manifests that name them, and every downloaded object hash-verified
/// before it enters the cache. An interrupted transfer resumes by running it again.
/// </summary>
public sealed class DataTransfer(DataRepository repo, IDataRemote remote, int jobs = 8)
{
    private readonly int _jobs = jobs > 0 ? jobs : 8;

    /// <summary>Uploads the objects reachable from <paramref name="roots"/> that the remote lacks.</summary>
    public async Task<TransferResult> PushAsync(IReadOnlyCollection<CacheRoot> roots, bool verify = false, ITransferProgress? progress = null,
        CancellationToken cancellationToken = default)
    {
        // Held shared like fetch: gc must not delete an object between the check that it is cached and its upload.
        using var cacheLock = await repo.LockCacheAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var r in roots.Where(r => r.Kind == EntryKind.Dir && !repo.Cache.Contains(r.Digest)))
        {
            throw new ResourceDoesNotExistException($"folder manifest {r.Digest[..12]} is not in the local cache; nothing to push for it (run 'cairn data add' or 'cairn data pull' first)");
        }
        var manifests = roots.Where(r => r.Kind == EntryKind.Dir).Select(r => r.Digest).ToHashSet(StringComparer.Ordinal);
        var all = repo.Reachable(roots);
        var onRemote = await remote.StatAsync(all, cancellationToken).ConfigureAwait(false);
        // An object counts as present only with the right size: an upload cut off on a server that
        // does not make PUTs atomic leaves a truncated object, which is sent again.
        var toSend = all.Where(d => !onRemote.TryGetValue(d, out long size)
            || (repo.Cache.Contains(d) && size != new FileInfo(repo.Cache.ObjectPath(d)).Length)).ToList();
        var missing = toSend.Where(d => !repo.Cache.Contains(d)).ToList();
        if (missing.Count > 0)
        {
            throw new ResourceDoesNotExistException($"{missing.Count} object(s) are neither in the local cache nor on remote '{remote.Name}' (e.g. {missing[0][..12]}); they cannot be pushed");
        }
        // Files first, manifests last: a manifest on the remote means its files are there too.
        var files = toSend.Where(d => !manifests.Contains(d)).ToList();
        var last = toSend.Where(manifests.Contains).ToList();
        long total = toSend.Sum(d => new FileInfo(repo.Cache.ObjectPath(d)).Length);
        progress?.Started(toSend.Count, total);
        long moved = 0;
        var bytes = new Progress(progress, b => Interlocked.Add(ref moved, b));
        foreach (var batch in new[] { files, last })
        {
            await RunAllAsync(batch, async (d, ct) =>
            {
                string path = repo.Cache.ObjectPath(d);
                if (verify && await ContentHasher.HashFileAsync(path, ct).ConfigureAwait(false) != d)
                {
                    throw new InvalidStateException($"cache object {path} is corrupted (SHA-256 mismatch); it was not pushed — delete it and add or pull the data again");
                }
                await remote.UploadAsync(d, path, bytes, ct).ConfigureAwait(false);
                progress?.FileCompleted();
            }, "push", cancellationToken).ConfigureAwait(false);
        }
        return new TransferResult(toSend.Count, all.Count - toSend.Count, Interlocked.Read(ref moved));
    }

    /// <summary>Downloads the objects reachable from <paramref name="roots"/> that the local cache lacks, verifying each.</summary>
    public async Task<TransferResult> FetchAsync(IReadOnlyCollection<CacheRoot> roots, ITransferProgress? progress = null,
        CancellationToken cancellationToken = default)
    {
        long moved = 0;
        var bytes = new Progress(progress, b => Interlocked.Add(ref moved, b));
        int transferred = 0;
        using var cacheLock = await repo.LockCacheAsync(cancellationToken: cancellationToken).ConfigureAwait(false);

        // Manifests first: they say which files a folder needs.
        var manifests = roots.Where(r => r.Kind == EntryKind.Dir && !repo.Cache.Contains(r.Digest)).Select(r => r.Digest).Distinct().ToList();
        await RunAllAsync(manifests, async (d, ct) =>
        {
            await DownloadVerifiedAsync(d, null, ct).ConfigureAwait(false);
            Interlocked.Increment(ref transferred);
        }, "fetch", cancellationToken).ConfigureAwait(false);

        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var r in roots)
        {
            if (r.Kind == EntryKind.Dir)
            {
                foreach (var e in repo.Cache.LoadManifest(r.Digest).Entries) sizes.TryAdd(e.Digest, e.Size);
            }
            else
            {
                sizes.TryAdd(r.Digest, -1);
            }
        }
        var needed = sizes.Keys.Where(d => !repo.Cache.Contains(d)).ToList();
        progress?.Started(needed.Count, needed.Sum(d => Math.Max(0, sizes[d])));
        await RunAllAsync(needed, async (d, ct) =>
        {
            await DownloadVerifiedAsync(d, bytes, ct).ConfigureAwait(false);
            Interlocked.Increment(ref transferred);
            progress?.FileCompleted();
        }, "fetch", cancellationToken).ConfigureAwait(false);
        repo.Cache.SyncDirectories();
        return new TransferResult(transferred, sizes.Count + manifests.Count - transferred, Interlocked.Read(ref moved));
    }

    private async Task DownloadVerifiedAsync(string digest, IProgress<long>? bytes, CancellationToken ct)
    {
        string tmp = repo.Cache.NewTempPath();
        string actual;
        try
        {
            await using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous))
            using (var hashing = new HashingWriteStream(file))
            {
                await remote.DownloadAsync(digest, hashing, bytes, ct).ConfigureAwait(false);
                actual = hashing.Digest();
            }
            if (actual != digest)
            {
                throw new InvalidStateException($"object {digest[..12]} on remote '{remote.Name}' is corrupted (its SHA-256 is {actual[..12]}); it was not stored");
            }
            repo.Cache.CommitTemp(tmp, digest);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    private async Task RunAllAsync(IReadOnlyList<string> digests, Func<string, CancellationToken, Task> action, string verb, CancellationToken ct)
    {
        var errors = new ConcurrentQueue<Exception>();
        await Parallel.ForEachAsync(digests, new ParallelOptions { MaxDegreeOfParallelism = _jobs, CancellationToken = ct }, async (d, token) =>
        {
            try
            {
                await action(d, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Enqueue(e); // keep the other transfers going; report at the end
            }
        }).ConfigureAwait(false);
        if (!errors.IsEmpty)
        {
            var first = errors.First();
            string msg = $"{verb}: {errors.Count} of {digests.Count} object(s) failed; first error: {first.Message}. Run it again to retry the rest";
            throw first is CairnException ce ? new CairnException(ce.ErrorCode, msg, first) : new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, msg, first);
        }
    }

    private sealed class Progress(ITransferProgress? sink, Action<long> count) : IProgress<long>
    {
        public void Report(long value)
        {
            count(value);
            sink?.Advance(value);
        }
    }
}

/// <summary>A write-only stream that hashes what passes through it on its way to <paramref name="inner"/>.</summary>
internal sealed class HashingWriteStream(Stream inner) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public string Digest() => ContentHasher.ToHex(_hash);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        inner.Write(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _hash.AppendData(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
