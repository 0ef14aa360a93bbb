using System.IO.Enumeration;

namespace Cairn.Data;

/// <summary>How the workspace compares with a pointer file.</summary>
public enum DataChange
{
    /// <summary>The workspace holds exactly what the pointer says.</summary>
    Unchanged,
    /// <summary>The workspace content differs (files added, modified or deleted).</summary>
    Modified,
    /// <summary>The data is not in the workspace at all.</summary>
    Missing,
}

/// <summary>The status of one tracked path.</summary>
/// <param name="Entry">The tracked entry.</param>
/// <param name="Change">Workspace versus pointer.</param>
/// <param name="Added">Files in the workspace folder that the manifest lacks (directories only).</param>
/// <param name="Modified">Files whose content differs.</param>
/// <param name="Deleted">Files of the manifest missing from the workspace.</param>
/// <param name="InCache">Whether the cache holds the pointer's object (for directories: the manifest).</param>
public sealed record DataStatusEntry(TrackedEntry Entry, DataChange Change, IReadOnlyList<string> Added,
    IReadOnlyList<string> Modified, IReadOnlyList<string> Deleted, bool InCache);

public sealed partial class DataRepository
{
    /// <summary>Compares the workspace with the pointer files (all of them, or those of <paramref name="targets"/>).</summary>
    public async Task<IReadOnlyList<DataStatusEntry>> StatusAsync(IEnumerable<string>? targets = null, CancellationToken cancellationToken = default)
    {
        var result = new List<DataStatusEntry>();
        foreach (var entry in FindTracked(targets))
        {
            result.Add(await StatusOfAsync(entry, cancellationToken).ConfigureAwait(false));
        }
        Flush();
        return result;
    }

    internal async Task<DataStatusEntry> StatusOfAsync(TrackedEntry entry, CancellationToken ct)
    {
        string full = ToFull(entry.Path);
        var p = entry.Pointer;
        bool inCache = Cache.Contains(p.Digest);
        if (p.Kind == EntryKind.File)
        {
            if (!File.Exists(full)) return new(entry, DataChange.Missing, [], [], [], inCache);
            string digest = await DigestOfFileAsync(full, entry.Path, ct).ConfigureAwait(false);
            return digest == p.Digest
                ? new(entry, DataChange.Unchanged, [], [], [], inCache)
                : new(entry, DataChange.Modified, [], [entry.Path], [], inCache);
        }
        if (!Directory.Exists(full)) return new(entry, DataChange.Missing, [], [], [], inCache);
        if (DirSnapshot.Matches(this, entry.Path, p.Digest)) return new(entry, DataChange.Unchanged, [], [], [], inCache);
        if (!inCache)
        {
            // Without the manifest only the whole digest can be compared.
            string d = await DigestOfDirectoryAsync(full, entry.Path, ct).ConfigureAwait(false);
            return new(entry, d == p.Digest ? DataChange.Unchanged : DataChange.Modified, [], [], [], false);
        }
        var manifest = Cache.LoadManifest(p.Digest);
        var (added, modified, deleted) = await CompareDirectoryAsync(full, entry.Path, manifest, ct).ConfigureAwait(false);
        bool changed = added.Count + modified.Count + deleted.Count > 0;
        if (!changed) DirSnapshot.Write(this, entry.Path, p.Digest);
        return new(entry, changed ? DataChange.Modified : DataChange.Unchanged, added, modified, deleted, true);
    }

    /// <summary>The digest of a workspace file, from the stat cache when its stat is unchanged.</summary>
    internal async Task<string> DigestOfFileAsync(string full, string rel, CancellationToken ct)
    {
        if (!NativeFile.TryGetStat(full, out var st)) throw new ResourceDoesNotExistException($"{rel}: not a regular file");
        if (Stats.TryGetHex(rel, st, out var hex)) return hex;
        string digest = await ContentHasher.HashFileAsync(full, ct).ConfigureAwait(false);
        if (NativeFile.TryGetStat(full, out var after) && after == st) Stats.Set(rel, st, digest);
        return digest;
    }

    /// <summary>The digest a directory would get if added now (nothing is stored).</summary>
    internal async Task<string> DigestOfDirectoryAsync(string full, string rel, CancellationToken ct)
    {
        var files = EnumerateFiles(full).ToArray();
        var entries = new ManifestEntry[files.Length];
        await System.Threading.Tasks.Parallel.ForAsync(0, files.Length, Parallel(ct), async (i, token) =>
        {
            var (fileRel, fileFull) = files[i];
            string d = await DigestOfFileAsync(fileFull, rel + "/" + fileRel, token).ConfigureAwait(false);
            entries[i] = new ManifestEntry(fileRel, d, new FileInfo(fileFull).Length);
        }).ConfigureAwait(false);
        return new DirectoryManifest(entries).ComputeDigest();
    }

    /// <summary>
    /// Walks a directory once and compares it with a manifest. Unchanged files cost one stat and two
    /// dictionary look-ups on spans; only files whose stat changed are hashed (in parallel).
    /// </summary>
    private async Task<(List<string> Added, List<string> Modified, List<string> Deleted)> CompareDirectoryAsync(
        string full, string rel, DirectoryManifest manifest, CancellationToken ct)
    {
        var entries = manifest.Entries;
        var index = new Dictionary<string, int>(entries.Count, StringComparer.Ordinal);
        for (int i = 0; i < entries.Count; i++) index[entries[i].Path] = i;
        var lookup = index.GetAlternateLookup<ReadOnlySpan<char>>();
        var seen = new bool[entries.Count];
        var added = new List<string>();
        var modified = new List<string>();
        var toHash = new List<(int Index, string Rel, string Full)>();
        var stats = Stats;

        char[] relBuf = new char[512];   // "<rel>/<path in dir>" for the stat cache
        char[] fullBuf = new char[1024]; // absolute path for stat()
        rel.CopyTo(relBuf);
        relBuf[rel.Length] = '/';
        int relPrefix = rel.Length + 1;
        var digest = default(Digest32);

        var walk = new FileSystemEnumerable<bool>(full, (ref FileSystemEntry e) =>
        {
            var dir = e.Directory;
            var sub = dir.Length > e.RootDirectory.Length ? dir[(e.RootDirectory.Length + 1)..] : [];
            int len = relPrefix + sub.Length + (sub.Length > 0 ? 1 : 0) + e.FileName.Length;
            int fullLen = dir.Length + 1 + e.FileName.Length;
            if (len > relBuf.Length) Array.Resize(ref relBuf, len * 2);
            if (fullLen > fullBuf.Length) fullBuf = new char[fullLen * 2];
            int pos = relPrefix;
            if (sub.Length > 0) { sub.CopyTo(relBuf.AsSpan(pos)); pos += sub.Length; relBuf[pos++] = '/'; }
            e.FileName.CopyTo(relBuf.AsSpan(pos));
            var relSpan = relBuf.AsSpan(0, len);
            var inDir = relBuf.AsSpan(relPrefix, len - relPrefix);
            if (Path.DirectorySeparatorChar != '/') inDir.Replace(Path.DirectorySeparatorChar, '/');

            if (!lookup.TryGetValue(inDir, out int idx))
            {
                added.Add(inDir.ToString());
                return true;
            }
            seen[idx] = true;
            dir.CopyTo(fullBuf);
            fullBuf[dir.Length] = Path.DirectorySeparatorChar;
            e.FileName.CopyTo(fullBuf.AsSpan(dir.Length + 1));
            var fullSpan = fullBuf.AsSpan(0, fullLen);
            if (NativeFile.TryGetStat(fullSpan, out var st) && stats.TryGet(relSpan, st, out digest))
            {
                if (st.Size != entries[idx].Size || !HexEquals(entries[idx].Digest, digest)) modified.Add(entries[idx].Path);
                return true;
            }
            toHash.Add((idx, relSpan.ToString(), fullSpan.ToString()));
            return true;
        }, new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = 0 })
        {
            ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory,
        };
        foreach (var _ in walk) { }

        if (toHash.Count > 0)
        {
            var digests = new string[toHash.Count];
            await System.Threading.Tasks.Parallel.ForAsync(0, toHash.Count, Parallel(ct), async (i, token) =>
            {
                digests[i] = await DigestOfFileAsync(toHash[i].Full, toHash[i].Rel, token).ConfigureAwait(false);
            }).ConfigureAwait(false);
            for (int i = 0; i < toHash.Count; i++)
            {
                if (digests[i] != entries[toHash[i].Index].Digest) modified.Add(entries[toHash[i].Index].Path);
            }
        }
        var deleted = new List<string>();
        for (int i = 0; i < seen.Length; i++) if (!seen[i]) deleted.Add(entries[i].Path);
        added.Sort(StringComparer.Ordinal);
        modified.Sort(StringComparer.Ordinal);
        return (added, modified, deleted);
    }

    private static bool HexEquals(string hex, in Digest32 digest)
    {
        ReadOnlySpan<byte> d = digest;
        for (int i = 0; i < 32; i++)
        {
            if (HexVal(hex[2 * i]) != d[i] >> 4 || HexVal(hex[2 * i + 1]) != (d[i] & 0xF)) return false;
        }
        return true;

        static int HexVal(char c) => c <= '9' ? c - '0' : c - 'a' + 10;
    }
}

/// <summary>A path's content identity without storing anything.</summary>
/// <param name="Kind">File or folder.</param>
/// <param name="Digest">SHA-256 of the file or of the folder manifest.</param>
/// <param name="Size">Bytes.</param>
/// <param name="Files">Files of a folder.</param>
public readonly record struct PathDigest(EntryKind Kind, string Digest, long Size, int? Files);

public sealed partial class DataRepository
{
    /// <summary>Digest of a workspace path (stat cache first); null when it does not exist.</summary>
    public async Task<PathDigest?> DescribeAsync(string rel, CancellationToken cancellationToken = default)
    {
        string full = ToFull(rel);
        if (File.Exists(full))
        {
            string d = await DigestOfFileAsync(full, rel, cancellationToken).ConfigureAwait(false);
            return new PathDigest(EntryKind.File, d, new FileInfo(full).Length, null);
        }
        if (!Directory.Exists(full)) return null;
        var files = EnumerateFiles(full).ToArray();
        var entries = new ManifestEntry[files.Length];
        await System.Threading.Tasks.Parallel.ForAsync(0, files.Length, Parallel(cancellationToken), async (i, token) =>
        {
            var (fileRel, fileFull) = files[i];
            string d = await DigestOfFileAsync(fileFull, rel + "/" + fileRel, token).ConfigureAwait(false);
            entries[i] = new ManifestEntry(fileRel, d, new FileInfo(fileFull).Length);
        }).ConfigureAwait(false);
        var m = new DirectoryManifest(entries);
        return new PathDigest(EntryKind.Dir, m.ComputeDigest(), m.TotalSize, entries.Length);
    }

    /// <summary>Stores a workspace path in the cache (like add, without a pointer file) and returns its digest.</summary>
    public async Task<PathDigest> StoreAsync(string rel, CancellationToken cancellationToken = default)
    {
        string full = ToFull(rel);
        using var cacheLock = await LockCacheAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        PathDigest stored;
        if (Directory.Exists(full))
        {
            var (m, d) = await StoreDirectoryAsync(full, rel, null, cancellationToken).ConfigureAwait(false);
            stored = new PathDigest(EntryKind.Dir, d, m.TotalSize, m.Entries.Count);
        }
        else
        {
            var (digest, size) = await StoreFileAsync(full, rel, null, cancellationToken).ConfigureAwait(false);
            stored = new PathDigest(EntryKind.File, digest, size, null);
        }
        Cache.SyncDirectories(); // before the lock file names the objects
        return stored;
    }

    /// <summary>True when the cache holds the object and, for a folder, every file of its manifest.</summary>
    public bool IsFullyCached(EntryKind kind, string digest)
        => Cache.Contains(digest) && (kind == EntryKind.File || Cache.LoadManifest(digest).Entries.All(e => Cache.Contains(e.Digest)));

    /// <summary>Restores a path from the cache, replacing what is there.</summary>
    public async Task RestoreAsync(string rel, EntryKind kind, string digest, CancellationToken cancellationToken = default)
    {
        string full = ToFull(rel);
        using var cacheLock = await LockCacheAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        if (kind == EntryKind.File)
        {
            var guard = new WorkspaceGuard(Root);
            guard.EnsureInside(Path.GetDirectoryName(full)!, rel);
            if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
            Materialize(digest, full, rel, verify: false, guard, cancellationToken);
            return;
        }
        new WorkspaceGuard(Root).EnsureInside(full, rel);
        if (File.Exists(full)) File.Delete(full);
        var entry = new TrackedEntry(rel, "", new DataPointer(Path.GetFileName(full), EntryKind.Dir, digest, 0));
        await CheckoutEntryAsync(entry, force: true, verify: false, cancellationToken).ConfigureAwait(false);
    }
}
