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
}
