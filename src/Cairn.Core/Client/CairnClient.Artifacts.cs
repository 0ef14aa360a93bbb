using System.Net;
using Cairn.Tracking;

namespace Cairn.Client;

public sealed partial class CairnClient
{
    private const string ProxyScheme = "mlflow-artifacts:";

    /// <summary>
    /// Lists one folder of a run's artifacts (<paramref name="path"/> relative to the artifact root; null for the root).
    /// Against a server this is MLflow's <c>GET /api/2.0/mlflow/artifacts/list</c>; against a database opened in-process
    /// the run's artifact folder is read directly.
    /// </summary>
    public async Task<ArtifactListing> ListArtifactsAsync(string runId, string? path = null, CancellationToken cancellationToken = default)
    {
        path = ArtifactUpload.NormalizePath(path);
        if (Store is HttpTrackingStore http)
        {
            var query = $"api/2.0/mlflow/artifacts/list?run_id={Uri.EscapeDataString(runId)}" + (path.Length > 0 ? $"&path={Uri.EscapeDataString(path)}" : "");
            using var response = await http.GetRawAsync(query, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            var body = await HttpTrackingStore.ReadAsync(response, ArtifactJson.Default.ListArtifactsResponse, cancellationToken).ConfigureAwait(false);
            return new ArtifactListing(body.RootUri ?? "",
                (body.Files ?? []).Select(f => new ArtifactFile(f.Path ?? "", f.IsDir ?? false, f.IsDir == true ? null : f.FileSize)).ToList());
        }
        var run = await Store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        var root = LocalArtifactRoot(run.Info);
        var folder = Path.Combine(root, path);
        if (!Directory.Exists(folder)) return new ArtifactListing(run.Info.ArtifactUri, []);
        var files = new DirectoryInfo(folder).EnumerateFileSystemInfos()
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => new ArtifactFile(
                Path.GetRelativePath(root, f.FullName).Replace('\\', '/'),
                f is DirectoryInfo,
                f is FileInfo file ? file.Length : null))
            .ToList();
        return new ArtifactListing(run.Info.ArtifactUri, files);
    }

    /// <summary>
    /// Downloads a run's artifact file or folder (<paramref name="path"/>; null for all) into <paramref name="destination"/>,
    /// keeping its path below the artifact root, and returns the local files written. From a server, proxied artifacts
    /// (<c>mlflow-artifacts:</c> URIs) come through <c>/api/2.0/mlflow-artifacts/artifacts/...</c>; local folders are copied.
    /// </summary>
    public Task<IReadOnlyList<string>> DownloadArtifactsAsync(string runId, string? path, string destination, CancellationToken cancellationToken = default) =>
        DownloadArtifactsAsync(runId, path, destination, progress: null, cancellationToken);

    /// <summary>
    /// As <see cref="DownloadArtifactsAsync(string, string?, string, CancellationToken)"/>, reporting each local file to
    /// <paramref name="progress"/> as soon as it is written (a folder's size is not known before it is walked).
    /// </summary>
    public async Task<IReadOnlyList<string>> DownloadArtifactsAsync(string runId, string? path, string destination, IProgress<string>? progress,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(destination);
        path = ArtifactUpload.NormalizePath(path);
        var run = await Store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        var destinationRoot = Path.GetFullPath(destination);
        var written = new List<string>();
        void Wrote(string file)
        {
            written.Add(file);
            progress?.Report(file);
        }

        var localRoot = TryLocalArtifactRoot(run.Info);
        if (localRoot is not null && (!IsRemote || Directory.Exists(localRoot)))
        {
            var source = Path.Combine(localRoot, path);
            if (File.Exists(source))
            {
                Wrote(CopyTo(source, Target(destinationRoot, path)));
            }
            else if (Directory.Exists(source))
            {
                foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                    Wrote(CopyTo(file, Target(destinationRoot, Path.GetRelativePath(localRoot, file).Replace('\\', '/'))));
            }
            else
            {
                throw new ResourceDoesNotExistException($"Run {runId} has no artifact '{path}' (looked in {source}).");
            }
            return written;
        }

        if (run.Info.ArtifactUri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            // Read from the bucket directly, as MLflow's clients do; the store is rooted at the run's artifact URI.
            using var s3 = new Cairn.Artifacts.S3ArtifactStore(run.Info.ArtifactUri, S3Options());
            async Task<string> Fetch(string relative, CancellationToken ct)
            {
                await using var input = await s3.OpenReadAsync(relative, ct).ConfigureAwait(false);
                return await WriteFileAsync(input, Target(destinationRoot, relative), ct).ConfigureAwait(false);
            }
            await FromS3Async(run.Info.ArtifactUri, async () =>
            {
                var count = await CopyTreeAsync((folder, ct) => s3.ListAsync(Cairn.Artifacts.ArtifactPath.Join(path, folder), ct),
                    async (file, ct) =>
                    {
                        Wrote(await Fetch(Cairn.Artifacts.ArtifactPath.Join(path, file), ct).ConfigureAwait(false));
                        return file;
                    }, cancellationToken).ConfigureAwait(false);
                // An empty listing is a file's own path (or nothing: then S3 answers that it does not exist).
                if (count == 0) Wrote(await Fetch(path, cancellationToken).ConfigureAwait(false));
                return count;
            }).ConfigureAwait(false);
            return written;
        }

        if (Store is not HttpTrackingStore http || !run.Info.ArtifactUri.StartsWith(ProxyScheme, StringComparison.OrdinalIgnoreCase))
            throw new CairnException(ErrorCode.NOT_IMPLEMENTED,
                $"Run {runId} keeps its artifacts at '{run.Info.ArtifactUri}', which this client cannot read yet: download through a server that proxies them (mlflow-artifacts:).");

        var proxyPath = ProxyArtifactWriter.ProxyPath(run.Info.ArtifactUri);
        var listing = path.Length == 0 ? null : await ListArtifactsAsync(runId, path, cancellationToken).ConfigureAwait(false);
        if (listing is { Files.Count: 0 })
        {
            // MLflow lists nothing for a file's own path: treat it as one file (a 404 then says it does not exist).
            Wrote(await DownloadProxiedFileAsync(http, proxyPath, path, destinationRoot, cancellationToken).ConfigureAwait(false));
            return written;
        }
        var pending = new Stack<string>();
        pending.Push(path);
        while (pending.Count > 0)
        {
            var folder = pending.Pop();
            var entries = folder == path && listing is not null ? listing : await ListArtifactsAsync(runId, folder, cancellationToken).ConfigureAwait(false);
            foreach (var entry in entries.Files)
            {
                if (entry.IsDir) pending.Push(entry.Path);
                else Wrote(await DownloadProxiedFileAsync(http, proxyPath, entry.Path, destinationRoot, cancellationToken).ConfigureAwait(false));
            }
        }
        return written;
    }

    /// <summary>
    /// Uploads a local file, or a folder with everything under it, into a run's artifacts under <paramref name="artifactPath"/>
    /// (null for the root; a file keeps its name). In-process the file is copied into the run's artifact folder; against a
    /// server it is streamed with MLflow's <c>PUT /api/2.0/mlflow-artifacts/artifacts/&lt;path&gt;</c>. Returns the artifact paths written.
    /// </summary>
    public async Task<IReadOnlyList<string>> LogArtifactAsync(string runId, string localPath, string? artifactPath = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(localPath);
        var run = await Store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        return await LogArtifactAsync(run.Info, localPath, artifactPath, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As <see cref="LogArtifactAsync(string, string, string?, CancellationToken)"/>, for a caller that holds the run's info already (an <see cref="ActiveRun"/>'s), without reading the run again.</summary>
    public async Task<IReadOnlyList<string>> LogArtifactAsync(RunInfo run, string localPath, string? artifactPath = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var localRoot = TryLocalArtifactRoot(run);
        if (localRoot is not null && (!IsRemote || Directory.Exists(localRoot)))
        {
            var files = ArtifactUpload.Collect(localPath, artifactPath);
            foreach (var (source, relative) in files) CopyTo(source, Target(Path.GetFullPath(localRoot), relative));
            return files.Select(f => f.Relative).ToList();
        }
        if (Store is not HttpTrackingStore http)
            throw new CairnException(ErrorCode.NOT_IMPLEMENTED,
                $"Run {run.RunId} keeps its artifacts at '{run.ArtifactUri}', which this client cannot write yet: log through a server that proxies them (mlflow-artifacts:).");
        return await new ProxyArtifactWriter(http).LogArtifactAsync(run, localPath, artifactPath, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> DownloadProxiedFileAsync(HttpTrackingStore http, string proxyPath, string relativePath, string destinationRoot, CancellationToken cancellationToken)
    {
        var target = Target(destinationRoot, relativePath);
        var url = ProxyArtifactWriter.ProxyUrl(proxyPath, relativePath);
        HttpResponseMessage response;
        try
        {
            response = await http.GetRawAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (CairnException e) when (e.ErrorCode is ErrorCode.ENDPOINT_NOT_FOUND)
        {
            throw new ResourceDoesNotExistException($"The server has no artifact '{relativePath}' ({e.Message})");
        }
        using (response)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var temp = target + ".part";
            await using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                await response.Content.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            }
            File.Move(temp, target, overwrite: true);
        }
        return target;
    }

    /// <summary>
    /// Runs a read from S3, turning the SDK's failures (no credentials, access denied, endpoint unreachable) into one error
    /// naming the location; a missing object is already <see cref="ResourceDoesNotExistException"/>.
    /// </summary>
    private static async Task<T> FromS3Async<T>(string location, Func<Task<T>> read)
    {
        try
        {
            return await read().ConfigureAwait(false);
        }
        catch (Exception e) when (e is Amazon.Runtime.AmazonClientException or Amazon.Runtime.AmazonServiceException or HttpRequestException)
        {
            throw new CairnException(ErrorCode.TEMPORARILY_UNAVAILABLE, $"Cannot read '{location}' from S3: {e.Message}", e);
        }
    }

    /// <summary>How s3:// locations are reached: the client's options, else MLflow's environment variables.</summary>
    private Cairn.Data.Remotes.S3ConnectionOptions S3Options() =>
        _options.S3 ?? Cairn.Data.Remotes.S3ConnectionOptions.FromEnvironment(Environment.GetEnvironmentVariable);

    private static string CopyTo(string source, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(source, target, overwrite: true);
        return target;
    }

    /// <summary>The local file for an artifact path, refusing paths that would escape the destination (e.g. "../x").</summary>
    private static string Target(string destinationRoot, string relativePath)
    {
        var full = Path.GetFullPath(Path.Combine(destinationRoot, relativePath));
        if (!full.StartsWith(destinationRoot.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidParameterValueException($"Invalid artifact path '{relativePath}': it leads outside the destination folder.");
        return full;
    }

    private string LocalArtifactRoot(RunInfo run) =>
        TryLocalArtifactRoot(run) ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED,
            $"Run {run.RunId} keeps its artifacts at '{run.ArtifactUri}', which this client cannot read directly: use a server's tracking URI (http://...).");

    /// <summary>The local folder behind an artifact URI: a path, file://, or mlflow-artifacts: under the known proxy destination.</summary>
    private string? TryLocalArtifactRoot(RunInfo run)
    {
        var uri = run.ArtifactUri;
        if (uri.StartsWith("file:", StringComparison.OrdinalIgnoreCase)) return new Uri(uri).LocalPath;
        if (uri.StartsWith(ProxyScheme, StringComparison.OrdinalIgnoreCase))
            return _artifactsDestination is null ? null : Path.Combine(_artifactsDestination, ProxyArtifactWriter.ProxyPath(uri));
        if (uri.Contains("://", StringComparison.Ordinal)) return null;
        return Path.IsPathRooted(uri) ? uri : Path.GetFullPath(uri);
    }
}
