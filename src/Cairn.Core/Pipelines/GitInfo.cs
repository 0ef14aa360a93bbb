using System.Diagnostics;

namespace Cairn.Pipelines;

/// <summary>Small git helpers (the git executable, no library).</summary>
public static class GitInfo
{
    /// <summary>The HEAD commit of the work tree at <paramref name="root"/>, or null outside git.</summary>
    public static string? Head(string root)
    {
        if (!Directory.Exists(Path.Combine(root, ".git")) && !File.Exists(Path.Combine(root, ".git"))) return null;
        try
        {
            var (code, stdout, _) = Run(root, "rev-parse", "HEAD");
            return code == 0 ? stdout.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // git not installed
        }
    }

    /// <summary>The HEAD commit of the git work tree that contains <paramref name="folder"/> (any depth), or null outside git.</summary>
    public static string? CommitOf(string folder)
    {
        if (!Directory.Exists(folder) || !MayBeInWorkTree(folder)) return null;
        try
        {
            var (code, stdout, _) = Run(folder, "rev-parse", "HEAD");
            return code == 0 && stdout.Trim() is { Length: 40 } commit ? commit : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // git not installed
        }
    }

    /// <summary>
    /// Whether git could find a repository for <paramref name="folder"/>: a <c>.git</c> folder or file in it or an ancestor
    /// (git's own discovery), or <c>GIT_DIR</c> set. Outside one, asking git costs a process start for nothing.
    /// </summary>
    private static bool MayBeInWorkTree(string folder)
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GIT_DIR"))) return true;
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null; dir = dir.Parent)
        {
            var marker = Path.Combine(dir.FullName, ".git");
            if (Directory.Exists(marker) || File.Exists(marker)) return true;
        }
        return false;
    }

    /// <summary>The content of <paramref name="path"/> at revision <paramref name="rev"/>, or null when it did not exist there.</summary>
    public static string? Show(string root, string rev, string path)
    {
        var (code, stdout, stderr) = Run(root, "show", $"{rev}:{path}");
        if (code == 0) return stdout;
        if (stderr.Contains("does not exist", StringComparison.Ordinal) || stderr.Contains("exists on disk, but not in", StringComparison.Ordinal)) return null;
        var (vcode, _, _) = Run(root, "rev-parse", "--verify", "--quiet", rev + "^{commit}");
        if (vcode != 0) throw new InvalidParameterValueException($"'{rev}' is not a git revision of {root}");
        return null;
    }

    internal static (int Code, string Stdout, string Stderr) Run(string root, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidStateException("cannot start git");
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, err.GetAwaiter().GetResult());
    }
}
