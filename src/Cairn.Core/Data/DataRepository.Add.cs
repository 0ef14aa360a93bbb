using System.Buffers;
using System.Security.Cryptography;

namespace Cairn.Data;

/// <summary>Options of <see cref="DataRepository.AddAsync"/>.</summary>
public sealed class DataAddOptions
{
    /// <summary>Register the data as a dataset with this name.</summary>
    public string? DatasetName { get; init; }
    /// <summary>Where the data came from (URL, system), recorded with the dataset.</summary>
    public string? Source { get; init; }
    /// <summary>Reports each stored file's size (bytes hashed).</summary>
    public IProgress<long>? Progress { get; init; }
}

/// <summary>What <c>cairn data add</c> produced.</summary>
/// <param name="Entry">The tracked entry and its pointer.</param>
/// <param name="Dataset">The dataset record when one was registered.</param>
public sealed record DataAddResult(TrackedEntry Entry, DatasetRecord? Dataset);

public sealed partial class DataRepository
{
    private int _reflinkWorks = -1; // -1 unknown, 0 no, 1 yes

    /// <summary>
    /// Stores a file or directory in the cache and writes its pointer file (<c>path.cairn</c>) and a
    /// <c>.gitignore</c> entry next to it.
    /// </summary>
    public async Task<DataAddResult> AddAsync(string path, DataAddOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DataAddOptions();
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        string rel = ToRelative(full);
        if (rel.Length == 0) throw new InvalidParameterValueException($"{path}: cannot track the repository root itself");
        string first = rel.Split('/')[0];
        if (first is CairnDirName or ".git") throw new InvalidParameterValueException($"{rel}: paths inside {first}/ cannot be tracked");
        if (rel.EndsWith(DataPointer.Extension, StringComparison.Ordinal)) throw new InvalidParameterValueException($"{rel}: is a pointer file; add the data path instead");
        if (options.DatasetName is { } dn && (dn.Length == 0 || dn.Any(c => char.IsWhiteSpace(c) || c is '/' or '\\')))
            throw new InvalidParameterValueException($"--name: dataset name '{dn}' must be non-empty without spaces or slashes");

        DataPointer pointer;
        string name = Path.GetFileName(full);
        using var cacheLock = await LockCacheAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(full))
        {
            var (manifest, digest) = await StoreDirectoryAsync(full, rel, options.Progress, cancellationToken).ConfigureAwait(false);
            pointer = new DataPointer(name, EntryKind.Dir, digest, manifest.TotalSize, manifest.Entries.Count, options.DatasetName);
        }
        else if (File.Exists(full))
        {
            var (digest, size) = await StoreFileAsync(full, rel, options.Progress, cancellationToken).ConfigureAwait(false);
            pointer = new DataPointer(name, EntryKind.File, digest, size, null, options.DatasetName);
        }
        else
        {
            throw new ResourceDoesNotExistException($"{rel}: no such file or directory (cairn data add needs an existing path)");
        }

        string pointerRel = rel + DataPointer.Extension;
        Cache.SyncDirectories(); // the objects' names reach the disk before the pointer that names them
        AtomicFile.WriteAllText(ToFull(pointerRel), pointer.ToYaml());
        GitIgnore.Ensure(Path.GetDirectoryName(full)!, "/" + name);
        Flush();

        DatasetRecord? dataset = null;
        if (options.DatasetName is not null)
        {
            dataset = await DatasetProfiler.DescribeAsync(options.DatasetName, rel, full, pointer, options.Source, cancellationToken).ConfigureAwait(false);
            DatasetRecord.Save(dataset, Path.Combine(CairnDir, "datasets"));
        }
        return new DataAddResult(new TrackedEntry(rel, pointerRel, pointer), dataset);
    }

    /// <summary>Hashes every file of a directory (stat cache first), stores the missing objects and the manifest.</summary>
    internal async Task<(DirectoryManifest Manifest, string Digest)> StoreDirectoryAsync(string full, string rel, IProgress<long>? progress, CancellationToken ct)
    {
        var files = EnumerateFiles(full).ToArray();
        var entries = new ManifestEntry[files.Length];
        await System.Threading.Tasks.Parallel.ForAsync(0, files.Length, Parallel(ct), async (i, token) =>
        {
            var (fileRel, fileFull) = files[i];
            var (digest, size) = await StoreFileAsync(fileFull, rel + "/" + fileRel, progress, token).ConfigureAwait(false);
            entries[i] = new ManifestEntry(fileRel, digest, size);
        }).ConfigureAwait(false);
        var manifest = new DirectoryManifest(entries);
        return (manifest, Cache.AddManifest(manifest));
    }

    /// <summary>Makes sure the cache holds the file's content; returns its digest and size.</summary>
    internal Task<(string Digest, long Size)> StoreFileAsync(string full, string rel, IProgress<long>? progress, CancellationToken ct)
        => Task.Run(() => StoreFile(full, rel, progress, ct), ct);

    private (string Digest, long Size) StoreFile(string full, string rel, IProgress<long>? progress, CancellationToken ct)
    {
        if (!NativeFile.TryGetStat(full, out var st))
        {
            throw new ResourceDoesNotExistException($"{rel}: not a regular file (or it vanished while being added)");
        }
        if (Stats.TryGetHex(rel, st, out var known) && Cache.Contains(known))
        {
            progress?.Report(st.Size);
            return (known, st.Size);
        }

        string digest;
        bool preferLink = LinkTypes.Count > 0 && LinkTypes[0] is LinkType.Hardlink or LinkType.Reflink;
        if (preferLink)
        {
            digest = ContentHasher.HashFile(full, ct);
            BetweenHashAndStore?.Invoke(full);
            if (!Cache.Contains(digest)) PutByLink(full, rel, digest, st, ct);
        }
        else
        {
            digest = HashAndCopyIntoCache(full, rel, st, ct);
        }
        progress?.Report(st.Size);
        // Re-stat: a hard link into the cache changes the mode (read-only) but not size, mtime or inode.
        if (NativeFile.TryGetStat(full, out var after) && after == st) Stats.Set(rel, after, digest);
        return (digest, st.Size);
    }

    /// <summary>Called after a file was hashed and before its content is stored (tests change the file there).</summary>
    internal Action<string>? BetweenHashAndStore { get; set; }

    private static InvalidStateException ChangedWhileAdding(string rel)
        => new($"{rel}: the file changed while it was being added; add it again when nothing writes to it");

    /// <summary>
    /// One pass over the file: hash it and write it to a cache temp file, then rename into place. The object holds
    /// exactly the bytes hashed; the file must still have the stat it had before (else what was read may be half old,
    /// half new, and the pointer would name content the workspace never held).
    /// </summary>
    private string HashAndCopyIntoCache(string full, string rel, FileStatInfo before, CancellationToken ct)
    {
        string tmp = Cache.NewTempPath();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(ContentHasher.BufferSize);
        try
        {
            using (var src = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan))
            using (var dst = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
            {
                int n;
                while ((n = src.Read(buffer, 0, ContentHasher.BufferSize)) > 0)
                {
                    ct.ThrowIfCancellationRequested();
                    hash.AppendData(buffer, 0, n);
                    dst.Write(buffer, 0, n);
                }
            }
            string digest = ContentHasher.ToHex(hash);
            BetweenHashAndStore?.Invoke(full);
            if (!Unchanged(full, before)) throw ChangedWhileAdding(rel);
            Cache.CommitTemp(tmp, digest);
            return digest;
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True when the file still has the size, mtime and inode it had (a recent mtime is not trusted: see the stat cache).</summary>
    private bool Unchanged(string path, FileStatInfo before)
        => NativeFile.TryGetStat(path, out var now) && now == before;

    /// <summary>
    /// Stores a file hashed earlier by linking (or copying) it into the cache. The file may have changed since it was
    /// hashed; the object must not enter the cache under the old digest then. A hard link shares the file's inode, so
    /// its stat must still be the one taken before hashing; a clone or copy is a snapshot, checked the same way against
    /// the file (clone) or rehashed (copy). A file modified within the last second is rehashed in every case, since
    /// a write in the same clock tick may leave the mtime as it was.
    /// </summary>
    private void PutByLink(string full, string rel, string digest, FileStatInfo before, CancellationToken ct)
    {
        bool racy = StatCache.IsRacy(before, Time);
        foreach (var type in LinkTypes)
        {
            string tmp = Cache.NewTempPath();
            bool linked = type switch
            {
                LinkType.Reflink when _reflinkWorks != 0 => NativeFile.TryReflink(full, tmp),
                LinkType.Hardlink => NativeFile.TryHardLink(full, tmp),
                LinkType.Copy or LinkType.Symlink => CopyTo(full, tmp),
                _ => false,
            };
            if (type == LinkType.Reflink && _reflinkWorks != 0) _reflinkWorks = linked ? 1 : 0;
            if (!linked) continue;
            CommitChecked(tmp, type, full, rel, digest, before, racy, ct);
            return;
        }
        string last = Cache.NewTempPath();
        CopyTo(full, last);
        CommitChecked(last, LinkType.Copy, full, rel, digest, before, racy, ct);
    }

    private static bool CopyTo(string full, string tmp)
    {
        File.Copy(full, tmp);
        return true;
    }

    private void CommitChecked(string tmp, LinkType type, string full, string rel, string digest, FileStatInfo before, bool racy, CancellationToken ct)
    {
        try
        {
            bool same = type switch
            {
                // One inode: the link's stat is the file's.
                LinkType.Hardlink => Unchanged(tmp, before),
                // A clone holds what the file held when cloned: the file unchanged since the hash means the clone is what was hashed.
                LinkType.Reflink => Unchanged(full, before),
                _ => true,
            };
            if (same && (racy || type is not (LinkType.Hardlink or LinkType.Reflink))) same = ContentHasher.HashFile(tmp, ct) == digest;
            if (!same) throw ChangedWhileAdding(rel);
            Cache.CommitTemp(tmp, digest);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }
}

/// <summary>Keeps <c>.gitignore</c> entries for tracked paths.</summary>
public static class GitIgnore
{
    /// <summary>Adds <paramref name="entry"/> to <c>folder/.gitignore</c> unless it is already there.</summary>
    public static void Ensure(string folder, string entry)
    {
        string file = Path.Combine(folder, ".gitignore");
        string text = File.Exists(file) ? File.ReadAllText(file) : "";
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r'));
        if (lines.Contains(entry, StringComparer.Ordinal)) return;
        if (text.Length > 0 && !text.EndsWith('\n')) text += "\n";
        AtomicFile.WriteAllText(file, text + entry + "\n");
    }

    /// <summary>Removes <paramref name="entry"/> from <c>folder/.gitignore</c> if present.</summary>
    public static void Remove(string folder, string entry)
    {
        string file = Path.Combine(folder, ".gitignore");
        if (!File.Exists(file)) return;
        var lines = File.ReadAllText(file).Split('\n').ToList();
        if (lines.RemoveAll(l => l.TrimEnd('\r') == entry) > 0) AtomicFile.WriteAllText(file, string.Join('\n', lines));
    }
}
