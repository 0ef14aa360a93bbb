using Cairn.Data.Remotes;

namespace Cairn.Artifacts;

/// <summary>Opens the artifact store an artifact destination names.</summary>
public static class ArtifactStores
{
    /// <summary>
    /// <c>s3://bucket/prefix</c> opens an <see cref="S3ArtifactStore"/> reached through <paramref name="s3"/>
    /// (default: AWS with the SDK's credential chain); anything else is a local folder.
    /// </summary>
    public static IArtifactStore Open(string destination, S3ConnectionOptions? s3 = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(destination);
        if (destination.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            return new S3ArtifactStore(destination, s3 ?? new S3ConnectionOptions());
        if (destination.Contains("://", StringComparison.Ordinal) && !destination.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
            throw new CairnException(ErrorCode.NOT_IMPLEMENTED, $"Artifact destination '{destination}' is not supported: use a folder, file:/// or s3://bucket/prefix.");
        return new LocalArtifactStore(destination.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(destination).LocalPath : destination);
    }

    /// <summary>The roots of a comma list (<c>--allowed-artifact-roots</c>), trimmed, without empty items.</summary>
    public static IReadOnlyList<string> SplitRoots(string? list) =>
        string.IsNullOrWhiteSpace(list) ? [] : list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Why <paramref name="root"/> cannot be an artifact root, or null when it can: a folder, <c>file:///</c> or
    /// <c>s3://bucket/prefix</c>, and never a whole file system (every experiment's location would be inside it).
    /// </summary>
    public static string? CheckRoot(string root)
    {
        if (string.IsNullOrWhiteSpace(root)) return "an artifact root must not be empty";
        if (root.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
            return S3Connection.ParseUrl(root) is null ? $"'{root}' is not s3://bucket/prefix" : null;
        if (root.Contains("://", StringComparison.Ordinal) && !root.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
            return $"'{root}' is not a folder, file:/// or s3://bucket/prefix";
        string full;
        try
        {
            full = Path.GetFullPath(root.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(root).LocalPath : root);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or NotSupportedException or PathTooLongException)
        {
            return $"'{root}' is not a folder path ({e.Message})";
        }
        return Path.TrimEndingDirectorySeparator(full).Length == Path.GetPathRoot(full)?.Length
            ? $"'{root}' is a whole file system; name the folder that holds artifacts"
            : null;
    }
}
