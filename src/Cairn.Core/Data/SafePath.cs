using System.Collections.Concurrent;
using System.Text;

namespace Cairn.Data;

/// <summary>
/// The one check for paths read from files that travel with a repository (pointer files, folder manifests,
/// <c>cairn.lock</c>): such a file may come from anyone who can push to the repository or a remote, so a path in it
/// must stay inside the folder it is relative to. Every reader calls <see cref="Check"/> when it parses the file, before
/// anything is written or deleted.
/// </summary>
public static class SafePath
{
    /// <summary>The rule a path read from a file breaks, or null when it is a plain relative path.</summary>
    /// <remarks>
    /// Both separators count, whatever the platform: a manifest written on Linux is checked out on Windows too, where
    /// <c>..\x</c> climbs out of the folder.
    /// </remarks>
    public static string? Problem(string path)
    {
        if (path.Length == 0) return "is empty";
        if (path.Contains('\0')) return "contains a NUL character";
        if (path[0] is '/' or '\\' || Path.IsPathRooted(path)) return "is absolute";
        if (path.Length >= 2 && char.IsAsciiLetter(path[0]) && path[1] == ':') return "starts with a drive letter";
        foreach (var segment in path.Split('/', '\\'))
        {
            if (segment == "..") return "has a '..' segment";
        }
        return null;
    }

    /// <summary>
    /// Returns <paramref name="path"/> when it is relative without <c>..</c> segments, drive or NUL; otherwise throws an
    /// <see cref="InvalidParameterValueException"/> naming <paramref name="source"/> (the file) and <paramref name="field"/>.
    /// </summary>
    public static string Check(string path, string source, string field)
    {
        if (Problem(path) is { } problem)
        {
            throw new InvalidParameterValueException(
                $"{source}: {field} '{Printable(path)}' {problem}; paths in this file must be relative and stay inside the workspace");
        }
        return path;
    }

    /// <summary>The path with control characters escaped, so the error stays on one line.</summary>
    internal static string Printable(string path)
    {
        if (!path.Any(char.IsControl)) return path;
        var sb = new StringBuilder(path.Length + 8);
        foreach (var c in path)
        {
            if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.ToString();
    }
}

/// <summary>
/// Checks that a folder about to be written to (or deleted from) is inside the workspace once symbolic links are
/// followed: a link in the workspace (or a tracked folder that is itself a link) must not carry a checkout elsewhere.
/// Folders found inside are remembered for the life of the guard (one checkout), so a folder of 100,000 files costs
/// one check per sub-folder, not per file.
/// </summary>
internal sealed class WorkspaceGuard(string root)
{
    private const int MaxLinkDepth = 40;
    private readonly ConcurrentDictionary<string, bool> _inside = new(StringComparer.Ordinal);
    private string? _realRoot;

    /// <summary>The workspace root with its links resolved.</summary>
    private string RealRoot => _realRoot ??= Resolve(root, 0);

    /// <summary>Throws unless <paramref name="dirFull"/> (existing or not yet created) resolves to a folder at or under the root.</summary>
    /// <param name="dirFull">Absolute folder path, lexically under the root.</param>
    /// <param name="rel">What to name in the error (repository-relative).</param>
    public void EnsureInside(string dirFull, string rel)
    {
        if (_inside.ContainsKey(dirFull)) return;
        // The nearest folder that exists decides: what is created under it is a plain folder.
        string existing = dirFull;
        while (!Directory.Exists(existing) && !IsLink(existing))
        {
            string? parent = Path.GetDirectoryName(existing);
            if (parent is null) break;
            existing = parent;
        }
        string real = Resolve(existing, 0);
        string realRoot = RealRoot;
        bool ok = real == realRoot || real.StartsWith(realRoot.EndsWith(Path.DirectorySeparatorChar) ? realRoot : realRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        if (!ok)
        {
            throw new InvalidParameterValueException(
                $"{rel}: a symbolic link leads outside the workspace (to {real}); refusing to write there");
        }
        _inside[dirFull] = true;
    }

    /// <summary>True when the path is a symbolic link (to anything, or dangling).</summary>
    public static bool IsLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The absolute path with every symbolic link along it replaced by its target (what realpath gives).</summary>
    private static string Resolve(string path, int depth)
    {
        if (depth > MaxLinkDepth) throw new InvalidParameterValueException($"{path}: too many levels of symbolic links");
        string full = Path.GetFullPath(path);
        string? rootPart = Path.GetPathRoot(full);
        string current = rootPart ?? "";
        foreach (var part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            FileSystemInfo info = new FileInfo(next);
            string? target = null;
            try
            {
                target = info.LinkTarget;
            }
            catch (IOException)
            {
            }
            if (target is not null)
            {
                // Relative targets are relative to the link's folder; the target may hold links of its own.
                string absolute = Path.IsPathRooted(target) ? target : Path.Combine(current, target);
                next = Resolve(absolute, depth + 1);
            }
            current = next;
        }
        return current.Length > 1 ? current.TrimEnd(Path.DirectorySeparatorChar) : current;
    }
}
