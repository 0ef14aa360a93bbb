using Cairn.Storage.Postgres;
using Cairn.Storage.Sqlite;
using Cairn.Tracking;

namespace Cairn.Storage;

/// <summary>Picks the store from the URI scheme, as MLflow does: a folder or sqlite:// for SQLite, postgresql:// for PostgreSQL.</summary>
public static class TrackingStoreFactory
{
    /// <summary>
    /// Opens the store behind <paramref name="backendStoreUri"/>: <c>sqlite:///path/to/db</c>, a plain folder
    /// (its <c>cairn.db</c>), or <c>postgresql://...</c>. New experiments put their artifacts under
    /// <paramref name="defaultArtifactRoot"/>.
    /// </summary>
    public static async Task<ITrackingStore> OpenAsync(string backendStoreUri, string defaultArtifactRoot, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(backendStoreUri);
        if (backendStoreUri.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) ||
            backendStoreUri.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
            backendStoreUri.Contains("Host=", StringComparison.OrdinalIgnoreCase))
            return await PostgresTrackingStore.OpenAsync(backendStoreUri, defaultArtifactRoot, cancellationToken).ConfigureAwait(false);
        return await SqliteTrackingStore.OpenAsync(SqlitePath(backendStoreUri), defaultArtifactRoot, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The database file a SQLite URI or folder names.</summary>
    public static string SqlitePath(string uri)
    {
        if (uri.StartsWith("sqlite:///", StringComparison.OrdinalIgnoreCase))
            return uri["sqlite:///".Length..]; // sqlite:///relative.db, sqlite:////absolute.db (SQLAlchemy's form)
        if (uri.StartsWith("sqlite://", StringComparison.OrdinalIgnoreCase))
            throw new InvalidParameterValueException($"Invalid backend store URI '{uri}': use sqlite:///relative/path.db or sqlite:////absolute/path.db.");
        if (uri.Contains("://", StringComparison.Ordinal))
            throw new InvalidParameterValueException($"Invalid backend store URI '{uri}': the scheme is not supported; use a folder, sqlite:///path or postgresql://...");
        return uri.EndsWith(".db", StringComparison.OrdinalIgnoreCase) || uri.EndsWith(".sqlite", StringComparison.OrdinalIgnoreCase)
            ? uri
            : Path.Combine(uri, "cairn.db");
    }
}
