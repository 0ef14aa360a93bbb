using Cairn.Data;

namespace Cairn.Pipelines;

/// <summary>The repository-wide lock that keeps two <c>cairn repro</c> from running at once.</summary>
internal sealed class ReproLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _pidFile;

    private ReproLock(FileStream stream, string pidFile)
    {
        _stream = stream;
        _pidFile = pidFile;
    }

    public static ReproLock Acquire(DataRepository repo)
    {
        string dir = Path.Combine(repo.CairnDir, "tmp");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "repro.lock");
        string pidFile = Path.Combine(dir, "repro.pid");
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock on Unix) that the OS drops if the process dies.
            var fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(pidFile, Environment.ProcessId.ToString());
            return new ReproLock(fs, pidFile);
        }
        catch (IOException)
        {
            string holder = File.Exists(pidFile) ? File.ReadAllText(pidFile).Trim() : "?";
            throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE,
                $"another 'cairn repro' is running in {repo.Root} (pid {holder} holds .cairn/tmp/repro.lock); wait for it to finish");
        }
    }

    public void Dispose()
    {
        try { File.Delete(_pidFile); } catch (IOException) { }
        _stream.Dispose();
    }
}
