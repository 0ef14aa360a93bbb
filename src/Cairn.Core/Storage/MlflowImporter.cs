using System.Data.Common;
using Cairn.Artifacts;
using Cairn.Data.Remotes;
using Cairn.Storage.Postgres;
using Cairn.Tracking;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Cairn.Storage;

/// <summary>What <see cref="MlflowImporter"/> found in MLflow and what it wrote: per kind, rows read and rows new to Cairn.</summary>
public sealed class MlflowImportSummary
{
    /// <summary>Kinds in the order they are imported: experiments, runs, params, tags, metric points, datasets, inputs, models, versions, aliases, and the artifact files this import copied.</summary>
    public IReadOnlyList<string> Kinds { get; } =
        ["experiments", "runs", "params", "tags", "metric points", "datasets", "inputs", "registered models", "model versions", "aliases", "artifact files copied"];

    /// <summary>Rows (or files) found in MLflow, per kind.</summary>
    public Dictionary<string, long> Found { get; } = new(StringComparer.Ordinal);

    /// <summary>Rows (or files) written into Cairn by this import, per kind; the rest were there already.</summary>
    public Dictionary<string, long> Imported { get; } = new(StringComparer.Ordinal);

    /// <summary>Artifact bytes copied.</summary>
    public long ArtifactBytes { get; internal set; }

    /// <summary>What was left out and why (an artifact location outside --artifacts-root, say), one line each.</summary>
    public List<string> Warnings { get; } = [];

    internal void Add(string kind, long found, long imported)
    {
        Found[kind] = Found.GetValueOrDefault(kind) + found;
        Imported[kind] = Imported.GetValueOrDefault(kind) + imported;
    }
}

/// <summary>Progress of an import: the run being copied (one step per run) out of all runs.</summary>
public readonly record struct MlflowImportProgress(int RunsDone, int RunsTotal, string Stage);

/// <summary>
/// <c>cairn import mlflow</c>: copies an MLflow 2.x tracking database (SQLite or PostgreSQL, the schema of MLflow's alembic
/// migrations) and its artifacts into a Cairn database, keeping experiment ids, run ids and version numbers.
/// <para>
/// Resumable and idempotent: every row goes in with <c>ON CONFLICT DO NOTHING</c>; a run is written in one transaction after
/// its artifacts are copied, so a run present in Cairn is complete and a second import skips it; a registered model is
/// written in one transaction. An id that Cairn already uses for something else (an experiment id with another name) is
/// refused rather than merged.
/// </para>
/// Artifacts are read from <c>--artifacts-root</c> (a folder or <c>s3://bucket/prefix</c>): MLflow's <c>mlflow-artifacts:/path</c>
/// maps to <c>root/path</c>, and file paths, <c>file:</c> URIs and <c>s3://</c> URIs are read when they lie under the root. They are
/// written below Cairn's own artifact root, and the locations (and model version sources under a run) are rewritten to Cairn's.
/// </summary>
public static partial class MlflowImporter
{
    private const string ProxyScheme = "mlflow-artifacts:";
    private const int MetricBatch = 5000;

    /// <summary>Who the audit trail says set an imported alias.</summary>
    internal const string ImportUser = "cairn import mlflow";

    /// <summary>
    /// Imports into the database behind <paramref name="client"/> (a folder, sqlite:/// or postgresql:// tracking URI, not a server).
    /// <paramref name="s3"/> reaches an <c>s3://</c> <paramref name="artifactsRoot"/> or Cairn's own S3 artifact root.
    /// </summary>
    public static Task<MlflowImportSummary> RunAsync(Cairn.Client.CairnClient client, string backendStoreUri, string artifactsRoot,
        S3ConnectionOptions? s3 = null, IProgress<MlflowImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return RunAsync(client.Stores, backendStoreUri, artifactsRoot, s3, progress, cancellationToken);
    }

    /// <summary>Imports into <paramref name="target"/>, a database opened by <see cref="CairnStores.OpenAsync"/> (not a server).</summary>
    public static async Task<MlflowImportSummary> RunAsync(CairnStores target, string backendStoreUri, string artifactsRoot,
        S3ConnectionOptions? s3 = null, IProgress<MlflowImportProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (string.IsNullOrWhiteSpace(backendStoreUri)) throw new InvalidParameterValueException("Missing value for required parameter '--backend-store-uri'.");
        if (string.IsNullOrWhiteSpace(artifactsRoot)) throw new InvalidParameterValueException("Missing value for required parameter '--artifacts-root'.");
        var database = target.Database ?? throw new InvalidParameterValueException(
            $"Invalid tracking URI '{target.Uri}' for an import: it names a server; import into its database (a folder, sqlite:///... or postgresql://...).");
        s3 ??= new S3ConnectionOptions();

        await using var source = await OpenSourceAsync(backendStoreUri, cancellationToken).ConfigureAwait(false);
        var tables = await TablesAsync(source, cancellationToken).ConfigureAwait(false);
        foreach (var required in new[] { "alembic_version", "experiments", "runs", "params", "tags", "metrics", "registered_models", "model_versions" })
            if (!tables.Contains(required))
                throw new InvalidParameterValueException($"Invalid value '{SecretRedaction.StoreUri(backendStoreUri)}' for '--backend-store-uri': it is not an MLflow 2.x tracking database (no table '{required}').");

        var sourceRoot = ArtifactStores.Open(artifactsRoot, s3);
        using var disposeSource = sourceRoot as IDisposable;
        var cairnRoot = database.DefaultArtifactRoot;
        IArtifactStore proxied = cairnRoot.StartsWith("s3://", StringComparison.OrdinalIgnoreCase)
            ? new S3ArtifactStore(cairnRoot, s3)
            : new LocalArtifactStore(target.LocalArtifactsFolder ?? Path.GetFullPath(Path.Combine(".cairn", "artifacts")));
        using var disposeProxied = proxied as IDisposable;
        var import = new Import(source, tables, database, sourceRoot, artifactsRoot, new ArtifactLocationResolver(proxied), progress, cancellationToken);
        await import.RunAsync().ConfigureAwait(false);
        return import.Summary;
    }

    /// <summary>
    /// Checks that <paramref name="uri"/> names an MLflow store this import reads (<c>sqlite:///path</c>, <c>postgresql://...</c>,
    /// with or without a SQLAlchemy driver such as <c>+psycopg2</c>) and returns it without the driver; nothing is opened.
    /// </summary>
    public static string CheckBackendStoreUri(string uri)
    {
        if (string.IsNullOrWhiteSpace(uri)) throw new InvalidParameterValueException("Missing value for required parameter '--backend-store-uri'.");
        // SQLAlchemy URIs may name a driver (postgresql+psycopg2://); the driver does not matter here.
        var plus = uri.IndexOf('+', StringComparison.Ordinal);
        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        if (plus > 0 && scheme > plus) uri = uri[..plus] + uri[scheme..];
        if (uri.StartsWith("sqlite:///", StringComparison.OrdinalIgnoreCase) && uri.Length > "sqlite:///".Length)
        {
            var path = uri["sqlite:///".Length..];
            return File.Exists(path) ? uri
                : throw new ResourceDoesNotExistException($"Invalid value '{uri}' for '--backend-store-uri': the SQLite file '{path}' does not exist.");
        }
        if (uri.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
            return uri;
        throw new InvalidParameterValueException(
            $"Invalid value '{SecretRedaction.StoreUri(uri)}' for '--backend-store-uri': use sqlite:////absolute/path/mlflow.db or postgresql://user:password@host:port/database.");
    }

    private static async Task<DbConnection> OpenSourceAsync(string uri, CancellationToken cancellationToken)
    {
        DbConnection connection;
        uri = CheckBackendStoreUri(uri);
        if (uri.StartsWith("sqlite:///", StringComparison.OrdinalIgnoreCase))
        {
            var path = uri["sqlite:///".Length..];
            connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly }.ToString());
        }
        else
        {
            var (npgsql, schema) = PostgresConnection.Parse(uri);
            if (schema is not null) npgsql = new NpgsqlConnectionStringBuilder(npgsql) { SearchPath = schema }.ToString();
            connection = new NpgsqlConnection(npgsql);
        }
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    private static async Task<HashSet<string>> TablesAsync(DbConnection c, CancellationToken cancellationToken)
    {
        var sql = c is SqliteConnection
            ? "SELECT name FROM sqlite_master WHERE type = 'table'"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()";
        return (await c.QueryAsync<string>(new CommandDefinition(sql, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
    }
}
