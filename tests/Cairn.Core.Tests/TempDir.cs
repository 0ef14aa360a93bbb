using System.Diagnostics;

namespace Cairn.Tests;

/// <summary>A real temp folder, deleted (read-only cache objects included) when the test ends.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cairn-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string rel] => System.IO.Path.Combine(Path, rel);

    public string Write(string rel, string content)
    {
        string full = this[rel];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    public string WriteBytes(string rel, byte[] content)
    {
        string full = this[rel];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
        return full;
    }

    public string Read(string rel) => File.ReadAllText(this[rel]);

    /// <summary>Runs a real process (git, sha256sum…) in the folder and returns its stdout; fails the test on a non-zero exit.</summary>
    public string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = Path, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["GIT_AUTHOR_NAME"] = psi.Environment["GIT_COMMITTER_NAME"] = "test";
        psi.Environment["GIT_AUTHOR_EMAIL"] = psi.Environment["GIT_COMMITTER_EMAIL"] = "test@example.com";
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        return stdout;
    }

    public void InitGit()
    {
        Run("git", "init", "-q", "-b", "main");
        Run("git", "config", "user.email", "test@example.com");
        Run("git", "config", "user.name", "test");
    }

    public void Dispose()
    {
        if (!Directory.Exists(Path)) return;
        foreach (var f in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
        {
            try { File.SetAttributes(f, FileAttributes.Normal); } catch (IOException) { }
        }
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { /* a process of the test may still hold a file; the OS temp cleaner gets it */ }
    }
}
