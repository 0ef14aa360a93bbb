namespace Cairn.Data;

/// <summary>A tracked path as <c>cairn data ls</c> shows it.</summary>
/// <param name="Entry">The tracked entry.</param>
/// <param name="InCache">Whether the cache holds its object (for folders: the manifest).</param>
public sealed record DataListItem(TrackedEntry Entry, bool InCache);

/// <summary>What gc removed (or would remove with a dry run).</summary>
/// <param name="Removed">Objects removed.</param>
/// <param name="Kept">Objects kept.</param>
/// <param name="BytesFreed">Bytes removed.</param>
public sealed record GcResult(int Removed, int Kept, long BytesFreed);

/// <summary>A digest that must survive gc, with its kind so folder manifests keep their files.</summary>
/// <param name="Digest">SHA-256 digest.</param>
/// <param name="Kind">File or directory manifest.</param>
public readonly record struct CacheRoot(string Digest, EntryKind Kind);

public sealed partial class DataRepository
{
    /// <summary>Tracked paths with their cache presence.</summary>
    public IReadOnlyList<DataListItem> List(IEnumerable<string>? targets = null)
        => FindTracked(targets).Select(e => new DataListItem(e, Cache.Contains(e.Pointer.Digest))).ToList();

    /// <summary>
    /// Every object reachable from the given roots: manifests and all their files.
    /// A manifest that is not in the cache contributes only itself.
    /// </summary>
    public HashSet<string> Reachable(IEnumerable<CacheRoot> roots)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in roots)
        {
            if (!used.Add(root.Digest) || root.Kind != EntryKind.Dir || !Cache.Contains(root.Digest)) continue;
            foreach (var e in Cache.LoadManifest(root.Digest).Entries) used.Add(e.Digest);
        }
        return used;
    }

    /// <summary>Roots of the workspace's pointer files.</summary>
    public IEnumerable<CacheRoot> PointerRoots() => FindTracked().Select(t => new CacheRoot(t.Pointer.Digest, t.Pointer.Kind));

    /// <summary>
    /// Removes cache objects not reachable from the workspace's pointer files and <paramref name="extraRoots"/>
    /// (pipeline lock file outs, experiments).
    /// </summary>
    public GcResult CollectGarbage(IEnumerable<CacheRoot> extraRoots, bool dryRun, TimeSpan lockWait = default)
        => CollectGarbage(() => extraRoots, dryRun, lockWait);

    /// <summary>
    /// Removes cache objects not reachable from the workspace's pointer files and the roots <paramref name="extraRoots"/>
    /// gives (read once the cache is locked, so a lock file a repro writes just before is seen). Holds the cache lock
    /// exclusively (<see cref="CacheLock"/>): waits up to <paramref name="lockWait"/> for the add, checkout, repro or
    /// fetch holding it, then fails with TEMPORARILY_UNAVAILABLE. A dry run deletes nothing and takes no lock.
    /// </summary>
    public GcResult CollectGarbage(Func<IEnumerable<CacheRoot>> extraRoots, bool dryRun, TimeSpan lockWait = default)
    {
        using var cacheLock = dryRun ? null : LockCache(exclusive: true, lockWait);
        var used = Reachable(PointerRoots().Concat(extraRoots()));
        int removed = 0, kept = 0;
        long freed = 0;
        foreach (var d in Cache.EnumerateDigests().ToList())
        {
            if (used.Contains(d)) { kept++; continue; }
            string path = Cache.ObjectPath(d);
            freed += new FileInfo(path).Length;
            removed++;
            if (!dryRun) File.Delete(path);
        }
        if (!dryRun && Directory.Exists(Cache.TempDir))
        {
            // Leftovers of interrupted writes older than a day.
            var dayAgo = Time.GetUtcNow().UtcDateTime.AddDays(-1);
            foreach (var f in Directory.EnumerateFiles(Cache.TempDir))
            {
                if (File.GetLastWriteTimeUtc(f) < dayAgo) File.Delete(f);
            }
        }
        return new GcResult(removed, kept, freed);
    }

    /// <summary>Rehashes the objects of the given entries; corrupted ones are removed from the cache and returned.</summary>
    public async Task<IReadOnlyList<string>> VerifyCacheAsync(IEnumerable<string>? targets = null, CancellationToken cancellationToken = default)
    {
        var digests = Reachable(FindTracked(targets).Select(t => new CacheRoot(t.Pointer.Digest, t.Pointer.Kind)))
            .Where(Cache.Contains).ToArray();
        var bad = new System.Collections.Concurrent.ConcurrentBag<string>();
        await System.Threading.Tasks.Parallel.ForAsync(0, digests.Length, Parallel(cancellationToken), (i, ct) =>
        {
            if (!Cache.Verify(digests[i], ct)) bad.Add(digests[i]);
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
        foreach (var d in bad) Cache.Remove(d);
        return bad.OrderBy(d => d, StringComparer.Ordinal).ToList();
    }
}
