namespace Cairn.Data;

/// <summary>
/// The content-addressed cache: <c>objects/ab/cdef…</c> keyed by SHA-256. Objects are written to a temp
/// file in the same file system, flushed to the disk (fsync), renamed into place and read-only once there, so
/// neither a crash (of the process or the machine) nor a concurrent writer leaves a half-written object under a
/// digest. The folders that got new names are flushed by <see cref="SyncDirectories"/> before a pointer or lock file
/// refers to them.
/// </summary>
public sealed class ObjectCache
{
    private static readonly UnixFileMode ReadOnlyMode = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Opens (and creates if needed) a cache rooted at <paramref name="root"/>.</summary>
    public ObjectCache(string root)
    {
        Root = Path.GetFullPath(root);
        ObjectsDir = Path.Combine(Root, "objects");
        TempDir = Path.Combine(Root, "tmp");
    }

    /// <summary>The cache folder.</summary>
    public string Root { get; }

    /// <summary>The folder holding the objects.</summary>
    public string ObjectsDir { get; }

    /// <summary>The folder for objects being written.</summary>
    public string TempDir { get; }

    /// <summary>Where the object with this digest lives.</summary>
    public string ObjectPath(string digest)
    {
        if (!ContentHasher.IsValidDigest(digest)) throw new InvalidParameterValueException($"'{digest}' is not a SHA-256 digest (64 lowercase hex characters)");
        return Path.Combine(ObjectsDir, digest[..2], digest[2..]);
    }

    /// <summary>True when the cache holds the object.</summary>
    public bool Contains(string digest) => File.Exists(ObjectPath(digest));

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _madeDirs = new(StringComparer.Ordinal);

    /// <summary>A fresh temp file path inside the cache (same file system as the objects).</summary>
    public string NewTempPath()
    {
        EnsureDir(TempDir);
        return Path.Combine(TempDir, Guid.NewGuid().ToString("N") + ".part");
    }

    // Adding 100k files would otherwise spend a syscall per file re-creating one of 256 folders.
    private void EnsureDir(string dir)
    {
        if (_madeDirs.ContainsKey(dir)) return;
        Directory.CreateDirectory(dir);
        _madeDirs[dir] = true;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _unsyncedDirs = new(StringComparer.Ordinal);

    /// <summary>
    /// Moves a fully written temp file into place as object <paramref name="digest"/> (read-only). Its content is
    /// flushed to the disk first: without that, a power cut after the rename can leave the name with no data behind it.
    /// </summary>
    public void CommitTemp(string tempPath, string digest)
    {
        string dest = ObjectPath(digest);
        string dir = Path.GetDirectoryName(dest)!;
        EnsureDir(dir);
        NativeFile.FlushToDisk(tempPath);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tempPath, ReadOnlyMode);
        try
        {
            File.Move(tempPath, dest, overwrite: false);
            _unsyncedDirs[dir] = true;
        }
        catch (IOException) when (File.Exists(dest))
        {
            File.Delete(tempPath); // another writer won the race with the same content
        }
    }

    /// <summary>
    /// Flushes the folders objects were renamed into since the last call, so the names survive a crash. One flush per
    /// folder (at most 256) per command instead of one per object: callers run it before writing the pointer or lock
    /// file that refers to the objects.
    /// </summary>
    public void SyncDirectories()
    {
        foreach (var dir in _unsyncedDirs.Keys.ToList())
        {
            if (_unsyncedDirs.TryRemove(dir, out _)) NativeFile.FlushDirectoryToDisk(dir);
        }
    }

    /// <summary>Stores bytes as an object and returns their digest.</summary>
    public string AddBytes(ReadOnlySpan<byte> data)
    {
        string digest = ContentHasher.HashBytes(data);
        if (Contains(digest)) return digest;
        string tmp = NewTempPath();
        using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write)) fs.Write(data);
        CommitTemp(tmp, digest);
        return digest;
    }

    /// <summary>Stores a manifest and returns the directory digest.</summary>
    public string AddManifest(DirectoryManifest manifest) => AddBytes(manifest.Serialize());

    /// <summary>Reads a directory manifest from the cache.</summary>
    /// <param name="digest">The manifest's digest.</param>
    /// <param name="verify">Rehash the manifest first (false skips it: objects enter the cache only after their hash is checked, and stay read-only).</param>
    public DirectoryManifest LoadManifest(string digest, bool verify = true)
    {
        string path = ObjectPath(digest);
        if (!File.Exists(path))
        {
            throw new ResourceDoesNotExistException($"directory manifest {digest[..12]} is not in the cache {Root}; run 'cairn data pull' or 'cairn data fetch'");
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (verify && ContentHasher.HashBytes(bytes) != digest)
        {
            throw new InvalidStateException($"cache object {path} is corrupted (its SHA-256 does not match its name); delete it and run 'cairn data pull'");
        }
        return DirectoryManifest.Parse(bytes, path);
    }

    /// <summary>Rehashes an object; false when it is missing or its content does not match its digest.</summary>
    public bool Verify(string digest, CancellationToken cancellationToken = default)
    {
        string path = ObjectPath(digest);
        return File.Exists(path) && ContentHasher.HashFile(path, cancellationToken) == digest;
    }

    /// <summary>Every digest in the cache.</summary>
    public IEnumerable<string> EnumerateDigests()
    {
        if (!Directory.Exists(ObjectsDir)) yield break;
        foreach (var dir in Directory.EnumerateDirectories(ObjectsDir))
        {
            string prefix = Path.GetFileName(dir);
            if (prefix.Length != 2) continue;
            foreach (var f in Directory.EnumerateFiles(dir))
            {
                string d = prefix + Path.GetFileName(f);
                if (ContentHasher.IsValidDigest(d)) yield return d;
            }
        }
    }

    /// <summary>Removes an object (used by gc and when an object is found corrupted).</summary>
    public void Remove(string digest)
    {
        string path = ObjectPath(digest);
        if (File.Exists(path)) File.Delete(path);
    }
}
