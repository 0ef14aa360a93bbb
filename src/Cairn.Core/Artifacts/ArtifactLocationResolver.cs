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
/// A location outside every artifact root the server manages (its artifact destination and the roots named with
/// <c>--allowed-artifact-roots</c>): the server neither lists nor deletes there. Experiments may still name such a
/// location (MLflow accepts any), their clients write there themselves.
/// </summary>
public sealed class ArtifactLocationOutsideRootsException(string message) : CairnException(ErrorCode.PERMISSION_DENIED, message);

/// <summary>
/// Turns a run's <c>artifact_uri</c> or an experiment's <c>artifact_location</c> into a store and a prefix inside one of
/// the artifact roots the server manages: <c>mlflow-artifacts:/1/abc/artifacts</c> (and the http(s) form of the proxy)
/// map into the proxied store; <c>file:///...</c>, plain folder paths and <c>s3://...</c> map into the managed root
/// (the proxied store or one of <c>allowedRoots</c>) that holds them. This is the one check that keeps the server's
/// listing and gc inside its roots: a location is compared after following symbolic links and resolving <c>..</c>
/// and percent-encoding, a file: URI with a query or fragment (<c>file:///etc#</c>) is refused, and a location that is a
/// whole root, outside every root, or of another scheme raises <see cref="ArtifactLocationOutsideRootsException"/>.
/// </summary>
public sealed class ArtifactLocationResolver
{
    private const string ProxyMarker = "/mlflow-artifacts/artifacts";

    private readonly IArtifactStore? _proxiedStore;
    private readonly IReadOnlyList<IArtifactStore> _roots;

    /// <param name="proxiedStore">The server's artifact destination (behind <c>mlflow-artifacts:</c>); null when there is none.</param>
    /// <param name="allowedRoots">Further roots the operator named (<c>--allowed-artifact-roots</c>), opened with <see cref="ArtifactStores.Open"/>.</param>
    public ArtifactLocationResolver(IArtifactStore? proxiedStore, IEnumerable<IArtifactStore>? allowedRoots = null)
    {
        _proxiedStore = proxiedStore;
        _roots = [.. proxiedStore is null ? [] : new[] { proxiedStore }, .. allowedRoots ?? []];
    }

    public ArtifactLocation Resolve(string uri)
    {
        if (string.IsNullOrEmpty(uri))
            throw new InvalidParameterValueException("Invalid artifact location '': it is empty.");

        if (uri.StartsWith("mlflow-artifacts:", StringComparison.OrdinalIgnoreCase))
        {
            // mlflow-artifacts:/path and mlflow-artifacts://host:port/path both name <destination>/path (decoded, as every
            // reader of these URIs takes them; the decoded path is what Proxied checks).
            return Proxied(uri, Cairn.Client.ProxyArtifactWriter.ProxyPath(uri));
        }
        if (uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var at = uri.IndexOf(ProxyMarker, StringComparison.OrdinalIgnoreCase);
            if (at < 0) throw Outside(uri, "only this server's artifact proxy (.../mlflow-artifacts/artifacts/...) is served over http(s)");
            return Proxied(uri, uri[(at + ProxyMarker.Length)..].TrimStart('/'));
        }
        if (uri.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            // file:///etc#/1/run/artifacts is /etc to a URI parser: the fragment (and a query) would silently drop the rest.
            if (uri.Contains('#') || uri.Contains('?'))
                throw new InvalidParameterValueException($"Invalid artifact location '{uri}': a file: URI must not have a query or fragment ('?', '#').");
            if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.IsFile || !string.IsNullOrEmpty(parsed.Host) && parsed.Host != "localhost")
                throw new InvalidParameterValueException($"Invalid artifact location '{uri}': use file:///absolute/path.");
            return Local(uri, parsed.LocalPath);
        }
        if (uri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            return S3(uri);
        if (uri.Contains("://", StringComparison.Ordinal) || HasScheme(uri))
            throw Outside(uri, "its scheme is not one the server stores artifacts under");
        return Local(uri, uri);
    }

    private ArtifactLocation Proxied(string uri, string path)
    {
        if (_proxiedStore is null)
            throw new InvalidParameterValueException($"Artifact location '{uri}' needs the server's artifact destination (--artifacts-destination).");
        return new ArtifactLocation(_proxiedStore, ArtifactPath.Normalize(path, "artifact_uri"));
    }

    /// <summary>An s3:// location inside one of the managed S3 roots maps into that store; any other bucket or prefix is not served.</summary>
    private ArtifactLocation S3(string uri)
    {
        if (Cairn.Data.Remotes.S3Connection.ParseUrl(uri) is not { } parsed)
            throw new InvalidParameterValueException($"Invalid artifact location '{uri}': use s3://bucket/prefix.");
        var key = ArtifactPath.Normalize(parsed.Prefix, "artifact_uri");
        foreach (var root in _roots)
        {
            if (root is not S3ArtifactStore s3 || parsed.Bucket != s3.Bucket) continue;
            if (s3.Prefix.Length == 0 && key.Length > 0)
                return new ArtifactLocation(s3, key);
            if (key.StartsWith(s3.Prefix + "/", StringComparison.Ordinal))
                return new ArtifactLocation(s3, key[(s3.Prefix.Length + 1)..]);
        }
        throw Outside(uri, "it is not inside any of them");
    }

    /// <summary>
    /// A folder maps into the managed local root holding it. Compared as real paths (links followed, ".." resolved
    /// as the file system does), so neither a link nor traversal can make an outside folder look inside.
    /// </summary>
    private ArtifactLocation Local(string uri, string path)
    {
        var real = ArtifactPath.RealPath(path);
        foreach (var root in _roots)
        {
            if (root is not LocalArtifactStore local || !ArtifactPath.IsWithin(local.RealRoot, real)) continue;
            var relative = Path.GetRelativePath(local.RealRoot, real).Replace(Path.DirectorySeparatorChar, '/');
            // The root itself is never a location: deleting it (gc) would take every other experiment's artifacts along.
            if (relative is "." or "") throw Outside(uri, "it is a whole artifact root, not a location inside one");
            return new ArtifactLocation(local, ArtifactPath.Normalize(relative, "artifact_uri"));
        }
        throw Outside(uri, "it is not inside any of them");
    }

    /// <summary>"dbfs:/x", "hdfs:x": a URI scheme (two characters or more, so a Windows drive letter is a path).</summary>
    private static bool HasScheme(string uri)
    {
        var colon = uri.IndexOf(':');
        if (colon < 2 || !char.IsAsciiLetter(uri[0])) return false;
        for (var i = 1; i < colon; i++)
        {
            if (!char.IsAsciiLetterOrDigit(uri[i]) && uri[i] is not ('+' or '-' or '.')) return false;
        }
        return true;
    }

    private static ArtifactLocationOutsideRootsException Outside(string uri, string why) =>
        new($"Artifact location '{uri}' is outside the artifact roots this server manages (its --artifacts-destination and " +
            $"--allowed-artifact-roots): {why}. The server neither lists nor deletes artifacts there.");
}
