using System.Diagnostics;

namespace Cairn.Data;

/// <summary>
/// The object cache's lock across processes (the cache may be shared by several repositories through CAIRN_HOME):
/// commands that write or read objects (add, checkout, repro, push, fetch, pull) hold it shared, <c>cairn data gc</c> holds it
/// exclusive, so gc never deletes an object another command is writing or is about to name in a pointer or lock file.
/// It is the file <c>lock</c> in the cache folder opened with FileShare semantics: on Unix .NET takes flock(LOCK_SH)
/// or flock(LOCK_EX) on it, on Windows the sharing mode does the same; the OS drops it when the process dies.
/// </summary>
public sealed class CacheLock : IDisposable
{
    /// <summary>The lock file's name inside the cache folder.</summary>
    public const string FileName = "lock";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private readonly FileStream _stream;

    private CacheLock(FileStream stream, bool exclusive)
    {
        _stream = stream;
        Exclusive = exclusive;
    }

    /// <summary>True for gc's exclusive hold.</summary>
    public bool Exclusive { get; }

    /// <summary>
    /// Takes the lock, waiting up to <paramref name="wait"/> while a holder of the other kind has it; then fails with
    /// TEMPORARILY_UNAVAILABLE (exit code 5 in the CLI) and a message saying who holds it.
    /// </summary>
    public static CacheLock Acquire(ObjectCache cache, bool exclusive, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (TryTake(cache, exclusive) is { } taken) return taken;
            if (clock.Elapsed >= wait) throw Busy(cache, exclusive, wait);
            cancellationToken.WaitHandle.WaitOne(Poll);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary><see cref="Acquire"/> for async callers: waits without blocking a thread.</summary>
    public static async Task<CacheLock> AcquireAsync(ObjectCache cache, bool exclusive, TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (TryTake(cache, exclusive) is { } taken) return taken;
            if (clock.Elapsed >= wait) throw Busy(cache, exclusive, wait);
            await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
        }
    }

    private static CacheLock? TryTake(ObjectCache cache, bool exclusive)
    {
        Directory.CreateDirectory(cache.Root);
        string path = Path.Combine(cache.Root, FileName);
        try
        {
            var stream = exclusive
                ? new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)
                : new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
            return new CacheLock(stream, exclusive);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            return null; // a sharing violation: the other kind holds it
        }
    }

    private static CairnException Busy(ObjectCache cache, bool exclusive, TimeSpan wait)
    {
        string waited = wait > TimeSpan.Zero ? $" (waited {wait.TotalSeconds:0.#} s)" : "";
        return exclusive
            ? new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                $"the data cache {cache.Root} is in use by another cairn command (data add, checkout, fetch, pull or repro){waited}; " +
                "run 'cairn data gc' again when it has finished, or pass --wait SECONDS")
            : new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                $"the data cache {cache.Root} is locked by 'cairn data gc'{waited}; try again when it has finished");
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose() => _stream.Dispose();
}
