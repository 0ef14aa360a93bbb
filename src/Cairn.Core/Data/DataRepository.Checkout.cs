namespace Cairn.Data;

/// <summary>What a checkout did.</summary>
/// <param name="Linked">Files written from the cache.</param>
/// <param name="Unchanged">Files that were already right.</param>
/// <param name="Removed">Files removed from tracked folders because the manifest lacks them.</param>
public sealed record CheckoutResult(int Linked, int Unchanged, int Removed);

public sealed partial class DataRepository
{
    private static readonly UnixFileMode WritableMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>
    /// Makes the workspace match the pointer files. Files are linked or copied out of the cache with the
    /// configured link types. Workspace changes that are not in the cache are refused unless <paramref name="force"/>.
    /// With <paramref name="verify"/>, every object is rehashed before use and a corrupted one is an error.
    /// </summary>
    public async Task<CheckoutResult> CheckoutAsync(IEnumerable<string>? targets = null, bool force = false, bool verify = false,
        CancellationToken cancellationToken = default)
    {
        int linked = 0, unchanged = 0, removed = 0;
        using var cacheLock = await LockCacheAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var entry in FindTracked(targets))
            {
                var r = await CheckoutEntryAsync(entry, force, verify, cancellationToken).ConfigureAwait(false);
                linked += r.Linked; unchanged += r.Unchanged; removed += r.Removed;
            }
        }
        finally
        {
            Flush();
        }
        return new CheckoutResult(linked, unchanged, removed);
    }

    internal async Task<CheckoutResult> CheckoutEntryAsync(TrackedEntry entry, bool force, bool verify, CancellationToken ct)
    {
        string full = ToFull(entry.Path);
        var p = entry.Pointer;
        var guard = new WorkspaceGuard(Root);
        if (p.Kind == EntryKind.File)
        {
            guard.EnsureInside(Path.GetDirectoryName(full)!, entry.Path);
            if (Directory.Exists(full)) throw new InvalidStateException($"{entry.Path}: is a folder but {entry.PointerFile} tracks a file; remove it first");
            if (File.Exists(full) && await DigestOfFileAsync(full, entry.Path, ct).ConfigureAwait(false) == p.Digest)
                return new CheckoutResult(0, 1, 0);
            EnsureMissing([p.Digest], entry);
            if (File.Exists(full)) await GuardOverwriteAsync(full, entry.Path, force, ct).ConfigureAwait(false);
            Materialize(p.Digest, full, entry.Path, verify, guard, ct);
            return new CheckoutResult(1, 0, 0);
        }

        if (File.Exists(full)) throw new InvalidStateException($"{entry.Path}: is a file but {entry.PointerFile} tracks a folder; remove it first");
        // The manifest's paths are checked as it is parsed; the folder itself must not be a link to elsewhere.
        var manifest = Cache.LoadManifest(p.Digest, verify);
        guard.EnsureInside(full, entry.Path);
        EnsureMissing(manifest.Entries.Select(e => e.Digest).Distinct(), entry);
        Directory.CreateDirectory(full);
        var (added, modified, deleted) = await CompareDirectoryAsync(full, entry.Path, manifest, ct).ConfigureAwait(false);
        foreach (var a in added)
        {
            string f = Path.Combine(full, a);
            guard.EnsureInside(Path.GetDirectoryName(f)!, entry.Path + "/" + a);
            await GuardOverwriteAsync(f, entry.Path + "/" + a, force, ct).ConfigureAwait(false);
        }
        var byPath = manifest.Entries.ToDictionary(e => e.Path, StringComparer.Ordinal);
        foreach (var m in modified) await GuardOverwriteAsync(Path.Combine(full, m), entry.Path + "/" + m, force, ct).ConfigureAwait(false);
        foreach (var a in added) File.Delete(Path.Combine(full, a));
        RemoveEmptyDirectories(full);
        var work = modified.Concat(deleted).ToArray();
        // Linking and copying are blocking system calls: a plain parallel loop, the calling thread included,
        // starts faster than an async one (which matters when a checkout is a few milliseconds of links).
        try
        {
            System.Threading.Tasks.Parallel.For(0, work.Length, Parallel(ct), i =>
            {
                var e = byPath[work[i]];
                Materialize(e.Digest, Path.Combine(full, e.Path), entry.Path + "/" + e.Path, verify, guard, ct);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // Report the first failure as itself (a corrupted object, a full disk), as a sequential loop would.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        return new CheckoutResult(work.Length, manifest.Entries.Count - work.Length, added.Count);
    }

    private void EnsureMissing(IEnumerable<string> digests, TrackedEntry entry)
    {
        var missing = digests.Where(d => !Cache.Contains(d)).ToList();
        if (missing.Count > 0)
        {
            throw new ResourceDoesNotExistException(
                $"{entry.Path}: {missing.Count} object(s) missing from the cache (e.g. {missing[0][..12]}); run 'cairn data pull {entry.Path}'");
        }
    }

    private async Task GuardOverwriteAsync(string full, string rel, bool force, CancellationToken ct)
    {
        if (force || !File.Exists(full)) return;
        string d = await DigestOfFileAsync(full, rel, ct).ConfigureAwait(false);
        if (!Cache.Contains(d))
        {
            throw new InvalidStateException($"{rel}: has changes that are not in the cache and would be lost; 'cairn data add' it first or checkout with --force");
        }
    }

    /// <summary>
    /// Writes the object's content at <paramref name="destFull"/> using the first link type that works, after
    /// <paramref name="guard"/> found its folder inside the workspace.
    /// </summary>
    internal void Materialize(string digest, string destFull, string destRel, bool verify, WorkspaceGuard guard, CancellationToken ct)
    {
        string obj = Cache.ObjectPath(digest);
        if (verify && ContentHasher.HashFile(obj, ct) != digest)
        {
            throw new InvalidStateException($"cache object {obj} is corrupted (SHA-256 mismatch); delete it and run 'cairn data pull'");
        }
        string destDir = Path.GetDirectoryName(destFull)!;
        guard.EnsureInside(destDir, destRel);
        Directory.CreateDirectory(destDir);
        string tmp = destFull + ".cairn-" + Guid.NewGuid().ToString("N")[..8];
        bool done = false;
        foreach (var type in LinkTypes)
        {
            switch (type)
            {
                case LinkType.Reflink when _reflinkWorks != 0:
                    done = NativeFile.TryReflink(obj, tmp);
                    _reflinkWorks = done ? 1 : 0;
                    if (done && !OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, WritableMode);
                    break;
                case LinkType.Hardlink:
                    done = NativeFile.TryHardLink(obj, tmp); // the object is read-only: edits cannot go through
                    break;
                case LinkType.Symlink:
                    File.CreateSymbolicLink(tmp, obj);
                    done = true;
                    break;
                case LinkType.Copy:
                    File.Copy(obj, tmp);
                    if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, WritableMode);
                    done = true;
                    break;
            }
            if (done) break;
        }
        if (!done)
        {
            File.Copy(obj, tmp);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, WritableMode);
        }
        if (Directory.Exists(destFull)) Directory.Delete(destFull, recursive: true);
        File.Move(tmp, destFull, overwrite: true);
        if (NativeFile.TryGetStat(destFull, out var st)) Stats.Set(destRel, st, digest);
    }

    private static void RemoveEmptyDirectories(string dir)
    {
        foreach (var sub in Directory.EnumerateDirectories(dir))
        {
            if (WorkspaceGuard.IsLink(sub)) continue; // never walk (or empty) a folder elsewhere through a link
            RemoveEmptyDirectories(sub);
            if (!Directory.EnumerateFileSystemEntries(sub).Any()) Directory.Delete(sub);
        }
    }
}
