using Cairn.Registry;

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
            {
                var local = uri.StartsWith("file:", StringComparison.OrdinalIgnoreCase) ? new Uri(uri).LocalPath : uri;
                if (Directory.Exists(local))
                    return new ModelLocation(copyFolders ? CopyFolder(local, destination) : Path.GetFullPath(local), version?.RunId, version);
                // A version registered from an artifact location (as MLflow's Python client registers it) is read through its run.
                if (version?.RunId is { } versionRun && await RunRelativePathAsync(versionRun, uri, cancellationToken).ConfigureAwait(false) is { } relative)
                    return await DownloadFromRunAsync(versionRun, relative, destination, version, cancellationToken).ConfigureAwait(false);
                throw new ResourceDoesNotExistException(version is null
                    ? $"Invalid value for '{field}': model '{modelUri}' not found: '{uri}' is neither a folder nor a runs:/ or models:/ URI."
                    : $"Invalid value for '{field}': model '{modelUri}' not found: version {version.Version} of '{version.Name}' has its source at '{uri}', which is neither a folder nor under its run's artifacts.");
            }
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

    /// <summary>The path of <paramref name="location"/> below the run's artifact root, or null when it is not under it.</summary>
    private async Task<string?> RunRelativePathAsync(string runId, string location, CancellationToken cancellationToken)
    {
        var root = (await Store.GetRunAsync(runId, cancellationToken).ConfigureAwait(false)).Info.ArtifactUri.TrimEnd('/');
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
