using System.Text;
using Cairn.Tracking;

namespace Cairn.Server.Endpoints;

/// <summary>
/// MLflow's server-side checks of a model version's <c>source</c> (handlers.py <c>_validate_source</c>): a local path
/// or file: URI is accepted only inside the artifact folder of the run named by <c>run_id</c>, so a client cannot
/// register (and later download through the server) an arbitrary server folder; any other URI must have an absolute
/// path without relative references, also after percent-decoding. The messages are MLflow's, which clients match.
/// </summary>
internal static class ModelVersionSource
{
    public static async Task ValidateAsync(string source, string? runId, ITrackingStore tracking, CancellationToken cancellationToken)
    {
        if (IsLocal(source))
        {
            if (runId is not null && LocalPath(source) is { } path)
            {
                var run = await tracking.GetRunAsync(runId, cancellationToken);
                if (IsLocal(run.Info.ArtifactUri) && LocalPath(run.Info.ArtifactUri) is { } runFolder && IsWithin(runFolder, path)) return;
            }
            throw new InvalidParameterValueException(
                $"Invalid model version source: '{source}'. To use a local path as a model version source, the run_id request parameter has to be " +
                "specified and the local path has to be contained within the artifact directory of the run specified by the run_id.");
        }
        if (HasRelativeReferences(source))
            throw new InvalidParameterValueException(
                $"Invalid model version source: '{source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or " +
                "mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.");
    }

    /// <summary>A path without a scheme, a Windows drive path, or a file: URI (MLflow's <c>is_local_uri</c>).</summary>
    internal static bool IsLocal(string uri)
    {
        var scheme = Scheme(uri);
        return scheme is null || scheme.Equals("file", StringComparison.OrdinalIgnoreCase);
    }

    private static string? Scheme(string uri)
    {
        var colon = uri.IndexOf(':');
        if (colon < 1 || !char.IsAsciiLetter(uri[0])) return null;
        if (colon == 1) return null; // a drive letter
        for (var i = 1; i < colon; i++)
            if (!char.IsAsciiLetterOrDigit(uri[i]) && uri[i] is not ('+' or '-' or '.')) return null;
        return uri[..colon];
    }

    /// <summary>The absolute, normalized file system path of a local source; null for a file: URI naming another host.</summary>
    private static string? LocalPath(string uri)
    {
        if (Scheme(uri) is null) return Path.TrimEndingDirectorySeparator(Path.GetFullPath(uri));
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.IsFile) return null;
        if (!string.IsNullOrEmpty(parsed.Host) && !parsed.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return null;
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(parsed.LocalPath));
    }

    private static bool IsWithin(string folder, string path)
    {
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return path.Equals(folder, comparison) || path.StartsWith(folder + Path.DirectorySeparatorChar, comparison);
    }

    /// <summary>
    /// Whether the path of the URI, fully percent-decoded and with repeated slashes collapsed, holds a NUL, a "." or ".."
    /// segment, or is relative: what MLflow's <c>_validate_non_local_source_contains_relative_paths</c> refuses.
    /// </summary>
    internal static bool HasRelativeReferences(string source)
    {
        var decoded = source;
        for (var i = 0; i < 10; i++)
        {
            var next = Uri.UnescapeDataString(decoded.Replace('+', ' '));
            if (next == decoded) break;
            decoded = next;
        }
        var path = UrlPath(decoded);
        if (path.Contains('\0', StringComparison.Ordinal)) return true;
        var collapsed = new StringBuilder(path.Length);
        foreach (var c in path)
            if (c != '/' || collapsed.Length == 0 || collapsed[^1] != '/') collapsed.Append(c);
        var normalized = collapsed.ToString().TrimEnd('/');
        if (normalized.Length == 0) return false;
        if (normalized[0] != '/') return true;
        foreach (var segment in normalized.Split('/'))
            if (segment is "." or "..") return true;
        return false;
    }

    /// <summary>The path part of a URI as Python's <c>urlparse</c> splits it: after the scheme and authority, before '?' or '#'.</summary>
    private static string UrlPath(string uri)
    {
        var rest = Scheme(uri) is { } scheme ? uri[(scheme.Length + 1)..] : uri;
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            var end = rest.IndexOfAny(['/', '?', '#'], 2);
            rest = end < 0 ? "" : rest[end..];
        }
        var cut = rest.IndexOfAny(['?', '#']);
        return cut < 0 ? rest : rest[..cut];
    }
}
