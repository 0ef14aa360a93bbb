using System.Text;

namespace Cairn.Artifacts;

/// <summary>
/// The one place artifact paths are checked. Every relative path a caller supplies goes through
/// <see cref="Normalize"/> (or <see cref="FromUrl"/> for a raw URL segment), and every file the local store touches
/// goes through <see cref="ResolveWithin"/>, which follows symbolic links on disk before deciding the path is inside.
/// The rules are MLflow's <c>validate_path_is_safe</c> plus the symlink check MLflow lacks.
/// </summary>
public static class ArtifactPath
{
    private const int MaxLinkHops = 40; // Linux's MAXSYMLINKS

    /// <summary>
    /// At most this many UTF-8 bytes in an artifact path: S3 keys hold 1024 and the local store's folders sit under a root,
    /// so a longer path would fail in the store (a 500) instead of being refused (a 400).
    /// </summary>
    public const int MaxPathBytes = 1024;

    /// <summary>At most this many UTF-8 bytes in one segment of a path: the file name limit of Linux, macOS and Windows file systems.</summary>
    public const int MaxSegmentBytes = 255;

    private static readonly StringComparison s_fileNameComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// Checks a relative artifact path and returns it normalized: '/'-separated, without empty or "." segments and
    /// without leading or trailing slashes; "" stands for the root. Refuses, naming the path and the rule:
    /// control characters and NUL, backslashes, absolute paths, drive letters, ".." segments, and percent-encoded
    /// '.', '/', '\' or NUL that would decode into any of those.
    /// </summary>
    public static string Normalize(string? path, string parameter = "path")
    {
        if (string.IsNullOrEmpty(path)) return "";
        CheckLiteral(path, path, parameter);

        // Clients and proxies decode at different depths; a path that turns into traversal after any number of
        // decodings is refused, whatever depth the caller stopped at (%2e%2e, %252e%252e, %2f).
        var decoded = path;
        for (var i = 0; i < 4 && decoded.Contains('%'); i++)
        {
            var next = Uri.UnescapeDataString(decoded);
            if (next == decoded) break;
            decoded = next;
        }
        if (!ReferenceEquals(decoded, path) && decoded != path)
        {
            if (Count(decoded, '/') != Count(path, '/') || Count(decoded, '\\') != 0)
                throw Invalid(path, parameter, "it must not contain a percent-encoded '/' or '\\'");
            CheckLiteral(decoded, path, parameter);
        }

        var builder = new StringBuilder(path.Length);
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment == ".") continue;
            if (builder.Length > 0) builder.Append('/');
            builder.Append(segment);
        }
        return builder.ToString();
    }

    /// <summary>
    /// Turns the raw (undecoded) remainder of a request URL into a normalized artifact path: decodes it once,
    /// as HTTP does, refusing an encoded '/' or '\' (<c>%2F</c>, <c>%5C</c>) that would split or join segments,
    /// then applies <see cref="Normalize"/>.
    /// </summary>
    public static string FromUrl(string rawPath, string parameter = "path")
    {
        var decoded = Uri.UnescapeDataString(rawPath);
        if (Count(decoded, '/') != Count(rawPath, '/') || Count(decoded, '\\') != Count(rawPath, '\\'))
            throw Invalid(rawPath, parameter, "it must not contain a percent-encoded '/' or '\\'");
        return Normalize(decoded, parameter);
    }

    /// <summary>Joins two normalized paths.</summary>
    public static string Join(string prefix, string relative) =>
        prefix.Length == 0 ? relative : relative.Length == 0 ? prefix : $"{prefix}/{relative}";

    /// <summary>The last segment of a normalized path.</summary>
    public static string FileName(string normalized) => normalized[(normalized.LastIndexOf('/') + 1)..];

    /// <summary>
    /// The absolute path of <paramref name="normalized"/> under <paramref name="realRoot"/> (a path already passed
    /// through <see cref="RealPath"/>), after following every symbolic link on the way, including a dangling last one.
    /// Refuses a path that ends up outside the root: a link inside the root may not lead out of it.
    /// </summary>
    public static string ResolveWithin(string realRoot, string normalized, string parameter = "path")
    {
        var resolved = Resolve(realRoot, normalized.Length == 0 ? [] : normalized.Split('/'));
        if (!IsWithin(realRoot, resolved))
            throw Invalid(normalized, parameter, "it resolves, through a symbolic link, to a location outside the artifact root");
        return resolved;
    }

    /// <summary>
    /// The canonical absolute form of <paramref name="path"/>: every symbolic link followed (POSIX semantics, so
    /// "link/.." is the link target's parent), missing trailing components kept as they are.
    /// </summary>
    public static string RealPath(string path)
    {
        // Not Path.GetFullPath: it collapses "link/.." lexically, which is not where the file system goes.
        var full = Path.IsPathFullyQualified(path) ? path : Path.Join(Environment.CurrentDirectory, path);
        var fsRoot = Path.GetPathRoot(full) ?? "/";
        return Resolve(fsRoot, full[fsRoot.Length..].Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
    }

    internal static bool IsWithin(string realRoot, string realPath)
    {
        var root = Path.TrimEndingDirectorySeparator(realRoot);
        if (realPath.Equals(root, s_fileNameComparison)) return true;
        if (root.Length == Path.GetPathRoot(root)?.Length) return realPath.StartsWith(root, s_fileNameComparison);
        return realPath.Length > root.Length && realPath.StartsWith(root, s_fileNameComparison) &&
               (realPath[root.Length] == Path.DirectorySeparatorChar || realPath[root.Length] == Path.AltDirectorySeparatorChar);
    }

    private static string Resolve(string start, string[] segments)
    {
        // A stack of names still to walk: a link's target is pushed back onto it so links inside links resolve too.
        var pending = new Stack<string>();
        for (var i = segments.Length - 1; i >= 0; i--) pending.Push(segments[i]);
        var current = start;
        var hops = 0;
        while (pending.Count > 0)
        {
            var name = pending.Pop();
            if (name.Length == 0 || name == ".") continue;
            if (name == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            var candidate = Path.Join(current, name);
            var target = LinkTarget(candidate);
            if (target is null)
            {
                // A real file or folder, or nothing yet: the name stands as it is.
                current = candidate;
                continue;
            }
            if (++hops > MaxLinkHops)
                throw new InvalidParameterValueException($"Invalid path '{candidate}': too many levels of symbolic links.");
            if (Path.IsPathRooted(target))
            {
                var targetRoot = Path.GetPathRoot(target) ?? "/";
                current = targetRoot;
                target = target[targetRoot.Length..];
            }
            var parts = target.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
            for (var i = parts.Length - 1; i >= 0; i--) pending.Push(parts[i]);
        }
        return current;
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            // ENOTDIR and friends: a component is a file, so nothing below it exists and nothing is a link.
            return null;
        }
    }

    private static void CheckLiteral(string value, string original, string parameter)
    {
        if (value.Length > MaxPathBytes || Encoding.UTF8.GetByteCount(value) > MaxPathBytes)
            throw Invalid(original, parameter, $"it is longer than {MaxPathBytes} bytes");
        foreach (var c in value)
        {
            if (c == '\0') throw Invalid(original, parameter, "it must not contain NUL");
            if (char.IsControl(c)) throw Invalid(original, parameter, "it must not contain control characters");
            if (c == '\\') throw Invalid(original, parameter, "it must use '/' as separator; backslashes are not allowed");
        }
        if (value[0] == '/') throw Invalid(original, parameter, "it must be relative, not absolute");
        if (value.Length >= 2 && char.IsAsciiLetter(value[0]) && value[1] == ':')
            throw Invalid(original, parameter, "it must be relative, not start with a drive letter");
        foreach (var segment in value.Split('/'))
        {
            if (segment == "..") throw Invalid(original, parameter, "it must not contain '..' segments");
            if (segment.Length > MaxSegmentBytes / 3 && Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
                throw Invalid(original, parameter, $"its name '{Show(segment)}' is longer than {MaxSegmentBytes} bytes");
        }
    }

    private static int Count(string text, char c)
    {
        var n = 0;
        foreach (var ch in text) if (ch == c) n++;
        return n;
    }

    private static InvalidParameterValueException Invalid(string path, string parameter, string rule) =>
        new($"Invalid value '{Show(path)}' for parameter '{parameter}': {rule}.");

    /// <summary>Control characters are shown escaped so the message stays one readable line.</summary>
    private static string Show(string path)
    {
        if (path.Length > 200) path = path[..200] + "...";
        if (!path.Any(char.IsControl)) return path;
        var builder = new StringBuilder(path.Length + 8);
        foreach (var c in path) builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return builder.ToString();
    }
}
