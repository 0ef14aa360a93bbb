namespace Cairn.Artifacts;

/// <summary>A place artifacts live: a store and a non-root prefix inside it.</summary>
/// <param name="Store">The store holding the location.</param>
/// <param name="Prefix">Normalized path of the location inside <paramref name="Store"/>; "" only for a proxied root.</param>
public sealed record ArtifactLocation(IArtifactStore Store, string Prefix)
{
    /// <summary>The store path of <paramref name="relative"/> (checked by <see cref="ArtifactPath.Normalize"/>) inside this location.</summary>
    public string PathOf(string? relative) => ArtifactPath.Join(Prefix, ArtifactPath.Normalize(relative));
}

/// <summary>
/// Turns a run's <c>artifact_uri</c> or an experiment's <c>artifact_location</c> into a store and a prefix:
/// <c>mlflow-artifacts:/1/abc/artifacts</c> (and the http(s) form of the proxy) map into the proxied store,
/// <c>file:///...</c> and plain folder paths into a local store rooted at the location's parent folder,
/// <c>s3://...</c> under the server's own S3 destination into that store.
/// </summary>
public sealed class ArtifactLocationResolver(IArtifactStore? proxiedStore)
{
    private const string ProxyMarker = "/mlflow-artifacts/artifacts";

    public ArtifactLocation Resolve(string uri)
    {
        if (string.IsNullOrEmpty(uri))
            throw new InvalidParameterValueException("Invalid artifact location '': it is empty.");

        if (uri.StartsWith("mlflow-artifacts:", StringComparison.OrdinalIgnoreCase))
        {
            // mlflow-artifacts:/path and mlflow-artifacts://host:port/path both name <destination>/path.
            var rest = uri["mlflow-artifacts:".Length..];
            if (rest.StartsWith("//", StringComparison.Ordinal))
            {
                var slash = rest.IndexOf('/', 2);
                rest = slash < 0 ? "" : rest[slash..];
            }
            return Proxied(uri, rest.TrimStart('/'));
        }
        if (uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var at = uri.IndexOf(ProxyMarker, StringComparison.OrdinalIgnoreCase);
            if (at < 0)
                throw new CairnException(ErrorCode.NOT_IMPLEMENTED, $"Artifact location '{uri}' is not supported: only this server's artifact proxy (.../mlflow-artifacts/artifacts/...) is.");
            return Proxied(uri, uri[(at + ProxyMarker.Length)..].TrimStart('/'));
        }
        if (uri.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.IsFile || !string.IsNullOrEmpty(parsed.Host) && parsed.Host != "localhost")
                throw new InvalidParameterValueException($"Invalid artifact location '{uri}': use file:///absolute/path.");
            return Local(uri, parsed.LocalPath);
        }
        if (uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            return S3(uri);
        if (uri.Contains("://", StringComparison.Ordinal))
            throw new CairnException(ErrorCode.NOT_IMPLEMENTED, $"Artifact location '{uri}' is not supported yet: use a folder, file:/// or mlflow-artifacts:/.");
        return Local(uri, uri);
    }

    private ArtifactLocation Proxied(string uri, string path)
    {
        if (proxiedStore is null)
            throw new InvalidParameterValueException($"Artifact location '{uri}' needs the server's artifact destination (--artifacts-destination).");
        return new ArtifactLocation(proxiedStore, ArtifactPath.Normalize(path, "artifact_uri"));
    }

    /// <summary>An s3:// location inside the server's own S3 destination maps into that store; any other bucket or prefix is not served.</summary>
    private ArtifactLocation S3(string uri)
    {
        if (proxiedStore is S3ArtifactStore s3 && Cairn.Data.Remotes.S3Connection.ParseUrl(uri) is { } parsed && parsed.Bucket == s3.Bucket)
        {
            var key = ArtifactPath.Normalize(parsed.Prefix, "artifact_uri");
            if (s3.Prefix.Length == 0 && key.Length > 0)
                return new ArtifactLocation(s3, key);
            if (key.StartsWith(s3.Prefix + "/", StringComparison.Ordinal))
                return new ArtifactLocation(s3, key[(s3.Prefix.Length + 1)..]);
        }
        throw new CairnException(ErrorCode.NOT_IMPLEMENTED,
            $"Artifact location '{uri}' is not supported: only locations under the server's S3 artifact destination are.");
    }

    private static ArtifactLocation Local(string uri, string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var parent = Path.GetDirectoryName(full);
        var name = Path.GetFileName(full);
        // Rooting the store at the parent keeps the location itself a deletable prefix (gc) instead of the root.
        if (parent is null || name.Length == 0)
            throw new InvalidParameterValueException($"Invalid artifact location '{uri}': a file system root cannot hold artifacts.");
        return new ArtifactLocation(new LocalArtifactStore(parent), ArtifactPath.Normalize(name, "artifact_uri"));
    }
}
