using Cairn.Artifacts;
using Cairn.Registry;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>Where a model package was found: the local folder holding its <c>MLmodel</c>, the run that logged it and the registry version named, when known.</summary>
/// <param name="Folder">The local folder of the package.</param>
/// <param name="RunId">The run whose artifacts hold the package, or null for a plain folder.</param>
/// <param name="Version">The registered model version a <c>models:/</c> URI named, or null.</param>
public sealed record ModelLocation(string Folder, string? RunId, ModelVersion? Version);

public sealed partial class CairnClient
{
    /// <summary>A <c>models:/</c> URI may name a version whose source is another <c>models:/</c> URI; at most this many hops.</summary>
    private const int MaxModelUriDepth = 8;

    /// <summary>
    /// Downloads the model package that <paramref name="modelUri"/> names into <paramref name="destination"/> and returns
    /// its folder: <c>models:/name/3</c>, <c>models:/name@alias</c>, <c>models:/name/Production</c> (newest in the stage),
    /// <c>models:/name/latest</c>, <c>runs:/&lt;run_id&gt;/path</c> or a local folder (copied). A registered version is
    /// followed to its source (another model URI, its run's artifacts, or a folder). The package keeps its artifact path
    /// below <paramref name="destination"/> (<c>runs:/id/model</c> lands in <c>destination/model</c>), as MLflow's download does.
    /// </summary>
    public Task<ModelLocation> DownloadModelAsync(string modelUri, string destination, CancellationToken cancellationToken = default) =>
        FindModelAsync(modelUri, destination, copyFolders: true, "model_uri", cancellationToken);

    /// <summary>
    /// As <see cref="DownloadModelAsync"/>, except that a package already in a local folder is used in place, not copied:
    /// only packages that must be fetched land in <paramref name="scratch"/>. Errors name <paramref name="field"/>.
    /// </summary>
    public Task<ModelLocation> LocateModelAsync(string modelUri, string scratch, string field = "model_uri", CancellationToken cancellationToken = default) =>
        FindModelAsync(modelUri, scratch, copyFolders: false, field, cancellationToken);

    private async Task<ModelLocation> FindModelAsync(string modelUri, string destination, bool copyFolders, string field, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(modelUri)) throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
        ArgumentException.ThrowIfNullOrEmpty(destination);
        var uri = modelUri;
        ModelVersion? version = null;
        for (var depth = 0; depth < MaxModelUriDepth; depth++)
        {
            if (!ModelUri.IsModelReference(uri))
                return await FromSourceAsync(modelUri, uri, version, destination, copyFolders, field, cancellationToken).ConfigureAwait(false);
            switch (ModelUri.Parse(uri, field))
            {
                case ModelUri.Run run:
                    return await DownloadFromRunAsync(run.RunId, run.Path, destination, version, cancellationToken).ConfigureAwait(false);
                case var registered:
                    try
                    {
                        version = await ModelUri.FindVersionAsync(registered, Registry, cancellationToken).ConfigureAwait(false);
                    }
                    catch (CairnException e) when (e.ErrorCode is ErrorCode.RESOURCE_DOES_NOT_EXIST or ErrorCode.INVALID_PARAMETER_VALUE)
                    {
                        // MLflow reports an unknown alias as INVALID_PARAMETER_VALUE; either way the URI names nothing, as ModelUri.ResolveAsync says.
                        throw new ResourceDoesNotExistException($"Invalid value for '{field}': model URI '{modelUri}' does not resolve: {e.Message}");
                    }
                    uri = version.Source;
                    break;
            }
        }
        throw new InvalidParameterValueException($"Invalid value for '{field}': model '{modelUri}' refers to models:/ URIs more than {MaxModelUriDepth} levels deep.");
    }

    private async Task<ModelLocation> DownloadFromRunAsync(string runId, string path, string destination, ModelVersion? version, CancellationToken cancellationToken)
    {
        await DownloadArtifactsAsync(runId, path, destination, cancellationToken).ConfigureAwait(false);
        var folder = path.Length == 0 ? Path.GetFullPath(destination) : Path.GetFullPath(Path.Combine(destination, path));
        if (!Directory.Exists(folder))
            throw new InvalidParameterValueException($"Artifact '{path}' of run {runId} is a file, not a model package folder.");
        return new ModelLocation(folder, runId, version);
    }

    /// <summary>
    /// A package at an artifact location rather than a model URI: a local folder (plain path or <c>file:</c>), a location under
    /// the version's run (read through the run, which keeps the run id), <c>mlflow-artifacts:</c> (the proxy destination when the
    /// database is opened in-process, the server's artifact proxy otherwise) or <c>s3://bucket/key</c> (read from S3 directly).
    /// Every path taken from the source or from a listing is checked by <see cref="ArtifactPath.Normalize"/> and stays inside
    /// the source and the destination.
    /// </summary>
    private async Task<ModelLocation> FromSourceAsync(string modelUri, string source, ModelVersion? version, string destination, bool copyFolders,
        string field, CancellationToken cancellationToken)
    {
        string Invalid(string rule) => version is null
            ? $"Invalid value for '{field}': model '{modelUri}' not found: '{source}' {rule}."
            : $"Invalid value for '{field}': model '{modelUri}' not found: version {version.Version} of '{version.Name}' has its source at '{source}', which {rule}.";

        var local = LocalFolderOf(source, field);
        if (local is not null && Directory.Exists(local))
            return new ModelLocation(copyFolders ? CopyFolder(local, destination) : Path.GetFullPath(local), version?.RunId, version);
        // A version registered from an artifact location (as MLflow's Python client registers it) is read through its run.
        if (version?.RunId is { Length: > 0 } versionRun && await RunRelativePathAsync(versionRun, source, cancellationToken).ConfigureAwait(false) is { } relative)
            return await DownloadFromRunAsync(versionRun, relative, destination, version, cancellationToken).ConfigureAwait(false);

        if (source.StartsWith(ProxyScheme, StringComparison.OrdinalIgnoreCase))
        {
            var path = ArtifactPath.Normalize(ProxyArtifactWriter.ProxyPath(source), field);
            if (path.Length == 0) throw new InvalidParameterValueException(Invalid("names the root of the artifact proxy, not a model package"));
            if (Store is HttpTrackingStore http)
            {
                var target = PackageFolder(destination, path);
                var count = await CopyTreeAsync(
                    (folder, ct) => ListProxyAsync(http, ArtifactPath.Join(path, folder), ct),
                    (file, ct) => DownloadProxiedFileAsync(http, path, file, target, ct),
                    cancellationToken).ConfigureAwait(false);
                return count > 0 ? new ModelLocation(target, version?.RunId, version)
                    : throw new ResourceDoesNotExistException(Invalid("holds no files on the server's artifact proxy"));
            }
            if (_artifactsDestination is null)
                throw new InvalidParameterValueException(Invalid("needs the artifact proxy's destination folder (CairnClientOptions.ArtifactsDestination)"));
            var root = ArtifactPath.RealPath(Path.GetFullPath(_artifactsDestination));
            var folderPath = ArtifactPath.ResolveWithin(root, path, field);
            return Directory.Exists(folderPath)
                ? new ModelLocation(copyFolders ? CopyFolder(folderPath, destination) : folderPath, version?.RunId, version)
                : throw new ResourceDoesNotExistException(Invalid($"is not a folder under the artifact proxy's destination ({_artifactsDestination})"));
        }
        if (source.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            var parsed = Cairn.Data.Remotes.S3Connection.ParseUrl(source)
                ?? throw new InvalidParameterValueException(Invalid("is not a valid s3://bucket/key location"));
            var key = ArtifactPath.Normalize(parsed.Prefix, field);
            if (key.Length == 0) throw new InvalidParameterValueException(Invalid("names a whole bucket, not a model package"));
            using var s3 = new S3ArtifactStore(source, S3Options());
            var target = PackageFolder(destination, key);
            var count = await FromS3Async(source, () => CopyTreeAsync(
                (folder, ct) => s3.ListAsync(folder, ct),
                async (file, ct) =>
                {
                    await using var input = await s3.OpenReadAsync(file, ct).ConfigureAwait(false);
                    return await WriteFileAsync(input, Target(target, file), ct).ConfigureAwait(false);
                },
                cancellationToken)).ConfigureAwait(false);
            return count > 0 ? new ModelLocation(target, version?.RunId, version)
                : throw new ResourceDoesNotExistException(Invalid("holds no files in S3"));
        }
        throw new ResourceDoesNotExistException(Invalid(local is not null
            ? "is not an existing folder"
            : "is neither a folder nor a runs:/, models:/, mlflow-artifacts:, s3:// or file: URI"));
    }

    /// <summary>The local folder a plain path or <c>file:</c> URI names; null for any other scheme.</summary>
    private static string? LocalFolderOf(string source, string field)
    {
        if (source.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(source, UriKind.Absolute, out var parsed) || !parsed.IsFile || !string.IsNullOrEmpty(parsed.Host) && parsed.Host != "localhost")
                throw new InvalidParameterValueException($"Invalid value for '{field}': '{source}' is not a local file: URI; use file:///absolute/path.");
            return parsed.LocalPath;
        }
        if (source.Contains("://", StringComparison.Ordinal) || source.StartsWith(ProxyScheme, StringComparison.OrdinalIgnoreCase)) return null;
        return source.Length >= 2 && char.IsAsciiLetter(source[0]) && source[1] == ':' || !source.Contains(':') || Path.IsPathRooted(source) ? source : null;
    }

    /// <summary>Where a package fetched from <paramref name="normalizedPath"/> lands: <c>destination/&lt;its last segment&gt;</c>.</summary>
    private static string PackageFolder(string destination, string normalizedPath) =>
        Target(Path.GetFullPath(destination), ArtifactPath.FileName(normalizedPath));

    /// <summary>One folder of the server's artifact proxy (<c>GET /api/2.0/mlflow-artifacts/artifacts?path=</c>), as paths relative to the listed root.</summary>
    private static async Task<IReadOnlyList<ArtifactFileInfo>> ListProxyAsync(HttpTrackingStore http, string proxyFolder, CancellationToken cancellationToken)
    {
        using var response = await http.GetRawAsync("api/2.0/mlflow-artifacts/artifacts?path=" + Uri.EscapeDataString(proxyFolder),
            HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var body = await HttpTrackingStore.ReadAsync(response, ArtifactJson.Default.ListArtifactsResponse, cancellationToken).ConfigureAwait(false);
        // The proxy lists children by base name (MLflow's _list_artifacts_mlflow_artifacts).
        return (body.Files ?? []).Select(f => new ArtifactFileInfo(f.Path ?? "", f.IsDir ?? false, f.FileSize)).ToList();
    }

    /// <summary>
    /// Walks a tree through <paramref name="list"/> (a folder relative to the tree's root, "" for the root) and hands every
    /// file's relative path to <paramref name="fetch"/>. A listed name is reduced to its last segment and checked, so a listing
    /// cannot lead outside the folder it lists. Returns the number of files fetched.
    /// </summary>
    private static async Task<int> CopyTreeAsync(Func<string, CancellationToken, Task<IReadOnlyList<ArtifactFileInfo>>> list,
        Func<string, CancellationToken, Task<string>> fetch, CancellationToken cancellationToken)
    {
        var count = 0;
        var pending = new Stack<string>();
        pending.Push("");
        while (pending.Count > 0)
        {
            var folder = pending.Pop();
            foreach (var entry in await list(folder, cancellationToken).ConfigureAwait(false))
            {
                var name = ArtifactPath.Normalize(ArtifactPath.FileName(ArtifactPath.Normalize(entry.Path)));
                if (name.Length == 0) continue;
                var relative = ArtifactPath.Join(folder, name);
                if (entry.IsDir)
                {
                    pending.Push(relative);
                    continue;
                }
                await fetch(relative, cancellationToken).ConfigureAwait(false);
                count++;
            }
        }
        return count;
    }

    private static async Task<string> WriteFileAsync(Stream input, string target, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = target + ".part";
        await using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true))
        {
            await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
        }
        File.Move(temp, target, overwrite: true);
        return target;
    }

    /// <summary>The path of <paramref name="location"/> below the run's artifact root, or null when it is not under it.</summary>
    private async Task<string?> RunRelativePathAsync(string runId, string location, CancellationToken cancellationToken)
    {
        Run run;
        try
        {
            run = await Store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceDoesNotExistException)
        {
            // MLflow registers any source with any run id; a version whose run is gone is read from its source alone.
            return null;
        }
        var root = run.Info.ArtifactUri.TrimEnd('/');
        if (location.TrimEnd('/') == root) return "";
        return location.StartsWith(root + "/", StringComparison.Ordinal) ? location[(root.Length + 1)..].Trim('/') : null;
    }

    /// <summary>Copies a package folder into <c>destination/&lt;its name&gt;</c> and returns that folder.</summary>
    private static string CopyFolder(string source, string destination)
    {
        source = Path.GetFullPath(source);
        var target = Path.GetFullPath(Path.Combine(destination, Path.GetFileName(source.TrimEnd(Path.DirectorySeparatorChar))));
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
            CopyTo(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        Directory.CreateDirectory(target);
        return target;
    }
}
