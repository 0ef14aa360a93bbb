using System.Net;
using System.Net.Http.Headers;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>
/// Writes run artifacts through a server's artifact proxy (<c>PUT /api/2.0/mlflow-artifacts/artifacts/...</c>), as
/// <c>mlflow server --serve-artifacts</c> and <c>cairn server</c> offer for runs whose artifact URI is <c>mlflow-artifacts:</c>.
/// Files stream from disk; nothing is held in memory.
/// </summary>
public sealed class ProxyArtifactWriter(HttpTrackingStore server) : IRunArtifactWriter
{
    private const string ProxyScheme = "mlflow-artifacts:";

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> LogArtifactAsync(RunInfo run, string localPath, string? artifactPath = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var files = ArtifactUpload.Collect(localPath, artifactPath);
        if (!run.ArtifactUri.StartsWith(ProxyScheme, StringComparison.OrdinalIgnoreCase))
            throw new CairnException(ErrorCode.NOT_IMPLEMENTED,
                $"Run {run.RunId} keeps its artifacts at '{run.ArtifactUri}', which this client cannot write yet: log through a server that proxies them (mlflow-artifacts:).");
        var proxyPath = ProxyPath(run.ArtifactUri);
        foreach (var (source, relative) in files)
        {
            await server.PutRawAsync(ProxyUrl(proxyPath, relative), () =>
            {
                var content = new StreamContent(new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                return content;
            }, cancellationToken).ConfigureAwait(false);
        }
        return files.Select(f => f.Relative).ToList();
    }

    /// <summary>The proxy's URL (relative to the server) of <paramref name="relativePath"/> below the proxied folder <paramref name="proxyPath"/>.</summary>
    internal static string ProxyUrl(string proxyPath, string relativePath) =>
        "api/2.0/mlflow-artifacts/artifacts/" + string.Join('/', $"{proxyPath}/{relativePath}".Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.EscapeDataString));

    /// <summary>"mlflow-artifacts:/1/abc/artifacts" or "mlflow-artifacts://host:port/1/abc/artifacts" → "1/abc/artifacts".</summary>
    internal static string ProxyPath(string artifactUri)
    {
        var rest = artifactUri[ProxyScheme.Length..];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            var slash = rest.IndexOf('/', 2);
            rest = slash < 0 ? "" : rest[slash..];
        }
        return WebUtility.UrlDecode(rest.Trim('/'));
    }
}

/// <summary>The files an artifact upload sends, and the artifact-path rules every writer shares.</summary>
internal static class ArtifactUpload
{
    /// <summary>
    /// The files under <paramref name="localPath"/> (a file, or a folder walked in ordinal order) with their artifact paths
    /// below <paramref name="artifactPath"/>; a missing source is RESOURCE_DOES_NOT_EXIST.
    /// </summary>
    public static List<(string Source, string Relative)> Collect(string localPath, string? artifactPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(localPath);
        var prefix = NormalizePath(artifactPath);
        var files = new List<(string Source, string Relative)>();
        if (File.Exists(localPath))
            files.Add((localPath, Join(prefix, Path.GetFileName(localPath))));
        else if (Directory.Exists(localPath))
            foreach (var file in Directory.EnumerateFiles(localPath, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                files.Add((file, Join(prefix, Path.GetRelativePath(localPath, file).Replace('\\', '/'))));
        else
            throw new ResourceDoesNotExistException($"Cannot log artifact '{localPath}': no such file or folder.");
        return files;

        static string Join(string left, string right) => left.Length == 0 ? right : $"{left}/{right}";
    }

    /// <summary>An artifact path with '/' separators and no leading or trailing '/'; '..' is refused.</summary>
    public static string NormalizePath(string? path)
    {
        var normalized = (path ?? "").Replace('\\', '/').Trim('/');
        if (normalized.Split('/').Any(segment => segment is ".."))
            throw new InvalidParameterValueException($"Invalid artifact path '{path}': '..' is not allowed.");
        return normalized;
    }
}
