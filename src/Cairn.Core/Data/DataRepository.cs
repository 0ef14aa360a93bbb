namespace Cairn.Data;

/// <summary>Settings the caller (CLI, tests) passes in; Core never reads the environment itself.</summary>
public sealed class DataRepositoryOptions
{
    /// <summary>Cache folder; default <c>&lt;repo&gt;/.cairn/cache</c> (the CLI passes <c>$CAIRN_HOME/cache</c> when set).</summary>
    public string? CacheDir { get; init; }
    /// <summary>Overrides the configured link types.</summary>
    public IReadOnlyList<LinkType>? LinkTypes { get; init; }
    /// <summary>Parallelism for hashing and linking; 0 means the processor count.</summary>
    public int Jobs { get; init; }
    /// <summary>
    /// The clock for run ids, durations, the stat cache's "modified too recently" check and the age of temporary
    /// files in gc; default <see cref="TimeProvider.System"/> (tests pass one they can move).
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
    /// <summary>
    /// How long add, checkout, repro and fetch wait for a running <c>cairn data gc</c> to release the cache
    /// (<see cref="CacheLock"/>) before they fail; default 10 minutes.
    /// </summary>
    public TimeSpan CacheLockWait { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>A tracked path: where its pointer file is and what it says.</summary>
/// <param name="Path">Repository-relative path of the data ('/' separated).</param>
/// <param name="PointerFile">Repository-relative path of the pointer file.</param>
/// <param name="Pointer">The pointer's content.</param>
public sealed record TrackedEntry(string Path, string PointerFile, DataPointer Pointer);

/// <summary>
/// A repository's data side: the root folder, its <c>.cairn/</c> folder, the object cache, the stat cache
/// and the configuration. Verbs live in partial files (Add, Status, Checkout, Gc).
/// </summary>
public sealed partial class DataRepository
{
    /// <summary>Name of the repository's metadata folder.</summary>
    public const string CairnDirName = ".cairn";

    private StatCache? _statCache;
    private readonly Lock _statGate = new();

    private DataRepository(string root, DataRepositoryOptions options)
    {
        Root = root;
        CairnDir = Path.Combine(root, CairnDirName);
        Cache = new ObjectCache(options.CacheDir ?? Path.Combine(CairnDir, "cache"));
        // Read on first use: parsing YAML config costs start-up time most commands do not need.
        _config = new Lazy<DataConfig>(() =>
        {
            var config = DataConfig.Load(Path.Combine(CairnDir, "config.yaml"));
            config.Merge(DataConfig.Load(Path.Combine(CairnDir, "config.local.yaml")));
            return config;
        });
        _linkTypes = new Lazy<IReadOnlyList<LinkType>>(() => options.LinkTypes ?? DataConfig.ParseLinkTypes(Config.LinkType, ".cairn/config.yaml: link_type"));
        Jobs = options.Jobs > 0 ? options.Jobs : Environment.ProcessorCount;
        Options = options;
    }

    /// <summary>The repository root.</summary>
    public string Root { get; }
    /// <summary>The <c>.cairn</c> folder.</summary>
    public string CairnDir { get; }
    /// <summary>The object cache.</summary>
    public ObjectCache Cache { get; }
    private readonly Lazy<DataConfig> _config;
    private readonly Lazy<IReadOnlyList<LinkType>> _linkTypes;

    /// <summary>The merged configuration.</summary>
    public DataConfig Config => _config.Value;
    /// <summary>The link types tried in order when files come out of the cache.</summary>
    public IReadOnlyList<LinkType> LinkTypes => _linkTypes.Value;
    /// <summary>Parallelism for hashing, linking and transfers.</summary>
    public int Jobs { get; }
    /// <summary>The options this repository was opened with.</summary>
    public DataRepositoryOptions Options { get; }
    /// <summary>The clock of <see cref="DataRepositoryOptions.TimeProvider"/>.</summary>
    public TimeProvider Time => Options.TimeProvider;

    internal StatCache Stats
    {
        get
        {
            lock (_statGate) return _statCache ??= StatCache.Load(Path.Combine(CairnDir, "tmp", "statcache.bin"), Time);
        }
    }

    /// <summary>
    /// Opens the repository containing <paramref name="startDir"/>: the nearest folder with a <c>.cairn</c>
    /// folder, else the nearest git work tree, else <paramref name="startDir"/> itself.
    /// </summary>
    public static DataRepository Open(string startDir, DataRepositoryOptions? options = null)
    {
        string start = Path.GetFullPath(startDir);
        if (!Directory.Exists(start)) throw new ResourceDoesNotExistException($"{start}: folder not found");
        string root = FindUp(start, CairnDirName) ?? FindUp(start, ".git") ?? start;
        var repo = new DataRepository(root, options ?? new DataRepositoryOptions());
        repo.EnsureInitialized();
        return repo;
    }

    private static string? FindUp(string start, string marker)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
        {
            if (Directory.Exists(Path.Combine(d.FullName, marker)) || (marker == ".git" && File.Exists(Path.Combine(d.FullName, marker))))
                return d.FullName;
        }
        return null;
    }

    private void EnsureInitialized()
    {
        if (Directory.Exists(CairnDir) && File.Exists(Path.Combine(CairnDir, ".gitignore"))) return;
        Directory.CreateDirectory(CairnDir);
        AtomicFile.WriteAllText(Path.Combine(CairnDir, ".gitignore"),
            "# machine-local Cairn state; config.yaml is meant to be committed\n/cache/\n/tmp/\n/runs/\n/exps/\n/config.local.yaml\n/cairn.db*\n/artifacts/\n");
    }

    /// <summary>
    /// Takes the cache lock: shared for commands that write or read objects, exclusive for gc. A shared hold waits
    /// up to <see cref="DataRepositoryOptions.CacheLockWait"/> for gc, an exclusive one up to <paramref name="wait"/>.
    /// </summary>
    public CacheLock LockCache(bool exclusive = false, TimeSpan? wait = null, CancellationToken cancellationToken = default)
        => CacheLock.Acquire(Cache, exclusive, wait ?? (exclusive ? TimeSpan.Zero : Options.CacheLockWait), cancellationToken);

    /// <summary><see cref="LockCache"/> for async callers.</summary>
    public Task<CacheLock> LockCacheAsync(bool exclusive = false, TimeSpan? wait = null, CancellationToken cancellationToken = default)
        => CacheLock.AcquireAsync(Cache, exclusive, wait ?? (exclusive ? TimeSpan.Zero : Options.CacheLockWait), cancellationToken);

    /// <summary>Saves the stat cache if it changed.</summary>
    public void Flush()
    {
        lock (_statGate) _statCache?.Save();
    }

    /// <summary>Repository-relative '/'-separated path of <paramref name="path"/> (absolute or relative to the current folder).</summary>
    public string ToRelative(string path)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        if (full == Root) return "";
        if (!full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidParameterValueException($"{path}: outside the repository {Root}");
        }
        return full[(Root.Length + 1)..].Replace(Path.DirectorySeparatorChar, '/');
    }

    /// <summary>Absolute path of a repository-relative path.</summary>
    public string ToFull(string rel) => rel.Length == 0 ? Root : Path.Combine(Root, rel.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Saves the config to <c>.cairn/config.yaml</c>.</summary>
    public void SaveConfig(DataConfig config) => config.Save(Path.Combine(CairnDir, "config.yaml"));

    /// <summary>Pointer files under the repository (skipping .git, .cairn and tracked folders), or those of <paramref name="targets"/>.</summary>
    public IReadOnlyList<TrackedEntry> FindTracked(IEnumerable<string>? targets = null)
    {
        var list = new List<TrackedEntry>();
        var given = targets?.ToList();
        if (given is { Count: > 0 })
        {
            foreach (var t in given)
            {
                string rel = ToRelative(t);
                string ptr = rel.EndsWith(DataPointer.Extension, StringComparison.Ordinal) ? rel : rel + DataPointer.Extension;
                if (!File.Exists(ToFull(ptr)))
                {
                    throw new ResourceDoesNotExistException($"{rel}: not tracked (no pointer file {ptr}); run 'cairn data add {rel}' first");
                }
                list.Add(LoadTracked(ptr));
            }
            return list;
        }
        var opts = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        var files = new System.IO.Enumeration.FileSystemEnumerable<string>(Root,
            (ref System.IO.Enumeration.FileSystemEntry e) => e.ToFullPath(), opts)
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e)
                => !e.IsDirectory && e.FileName.EndsWith(DataPointer.Extension, StringComparison.Ordinal),
            ShouldRecursePredicate = (ref System.IO.Enumeration.FileSystemEntry e)
                => !(e.FileName is ".git" or CairnDirName or "node_modules")
                   && !File.Exists(string.Concat(e.Directory, "/", e.FileName, DataPointer.Extension)),
        };
        foreach (var f in files.OrderBy(f => f, StringComparer.Ordinal)) list.Add(LoadTracked(ToRelative(f)));
        return list;
    }

    internal TrackedEntry LoadTracked(string pointerRel)
    {
        var p = DataPointer.Load(ToFull(pointerRel));
        int slash = pointerRel.LastIndexOf('/');
        string dir = slash < 0 ? "" : pointerRel[..(slash + 1)];
        return new TrackedEntry(dir + p.Path, pointerRel, p);
    }

    internal ParallelOptions Parallel(CancellationToken ct) => new() { MaxDegreeOfParallelism = Jobs, CancellationToken = ct };

    /// <summary>Files under a folder as (relative '/'-separated path, full path).</summary>
    public static IEnumerable<(string Rel, string Full)> EnumerateFilesPublic(string dirFull) => EnumerateFiles(dirFull);

    /// <summary>Files of a work tree outside git: everything but .git, .cairn and tracked data folders.</summary>
    public static IEnumerable<string> EnumerateFilesForCopy(string root)
    {
        var opts = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        return new System.IO.Enumeration.FileSystemEnumerable<string>(root,
            (ref System.IO.Enumeration.FileSystemEntry e) => Path.GetRelativePath(root, e.ToFullPath()).Replace(Path.DirectorySeparatorChar, '/'), opts)
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => !e.IsDirectory,
            ShouldRecursePredicate = (ref System.IO.Enumeration.FileSystemEntry e)
                => !(e.FileName is ".git" or CairnDirName) && !File.Exists(string.Concat(e.Directory, "/", e.FileName, DataPointer.Extension)),
        };
    }

    internal static IEnumerable<(string Rel, string Full)> EnumerateFiles(string dirFull)
    {
        var opts = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = 0 };
        return new System.IO.Enumeration.FileSystemEnumerable<(string, string)>(dirFull,
            (ref System.IO.Enumeration.FileSystemEntry e) =>
            {
                var sub = e.Directory.Length > e.RootDirectory.Length ? e.Directory[(e.RootDirectory.Length + 1)..] : [];
                string rel = sub.Length == 0 ? e.FileName.ToString() : string.Concat(sub, "/", e.FileName);
                return (Path.DirectorySeparatorChar == '/' ? rel : rel.Replace(Path.DirectorySeparatorChar, '/'), e.ToFullPath());
            }, opts)
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => !e.IsDirectory,
        };
    }
}
