using Cairn.Auth;
using Cairn.Client;
using Cairn.Registry;
using Cairn.Serving;
using Cairn.Storage.Postgres;
using Cairn.Storage.Sqlite;
using Cairn.Tracking;

namespace Cairn.Storage;

/// <summary>
/// The stores behind one tracking URI, opened together: <see cref="Tracking"/> and <see cref="Registry"/> over one database
/// (one set of connections, one SQLite writer) or over one HTTP transport (one connection pool, one retry policy). The one
/// place a URI becomes stores, as MLflow picks its store from the URI scheme. Dispose the set to close them; the stores
/// themselves do not own what they share.
/// <code>
/// using var stores = await CairnStores.OpenAsync("sqlite:///mlruns.db");
/// var experimentId = await stores.Tracking.CreateExperimentAsync("churn");
/// var model = await stores.Registry.CreateRegisteredModelAsync("churn-model");
/// </code>
/// </summary>
public sealed class CairnStores : IDisposable
{
    private readonly IDisposable _owned;

    private readonly IRegistryStore? _registry;

    private readonly IUserStore? _users;

    private readonly IDeploymentStore? _deployments;

    private readonly MlflowHttpTransport? _transport;

    private CairnStores(string uri, ITrackingStore tracking, IRegistryStore? registry, IDisposable owned, SqlDatabase? database, string? localArtifacts,
        IUserStore? users = null, IDeploymentStore? deployments = null, MlflowHttpTransport? transport = null)
    {
        _transport = transport;
        _users = users;
        _deployments = deployments;
        Uri = uri;
        Tracking = tracking;
        _registry = registry;
        _owned = owned;
        Database = database;
        LocalArtifactsFolder = localArtifacts;
    }

    /// <summary>The tracking URI the stores were opened from.</summary>
    public string Uri { get; }

    /// <summary>Experiments, runs, params, metrics, tags and inputs.</summary>
    public ITrackingStore Tracking { get; }

    /// <summary>Registered models, versions, aliases and the audit trail.</summary>
    public IRegistryStore Registry => _registry
        ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, $"The store behind '{SecretRedaction.StoreUri(Uri)}' has no model registry.");

    /// <summary>Users and access tokens of a server with access control on; only over a database (a server manages its own over HTTP).</summary>
    public IUserStore Users => _users
        ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, $"The store behind '{Uri}' has no user store: users are managed on the server's database.");

    /// <summary>Named deployments (routes, canary steps, rollback, revision history), on the same database or server.</summary>
    public IDeploymentStore Deployments => _deployments
        ?? throw new CairnException(ErrorCode.NOT_IMPLEMENTED, $"The store behind '{SecretRedaction.StoreUri(Uri)}' has no deployments.");

    /// <summary>True when the stores talk to a server over HTTP.</summary>
    public bool IsRemote => Database is null;

    /// <summary>The database shared by the stores; null over HTTP.</summary>
    internal SqlDatabase? Database { get; }

    /// <summary>Who may do what with each experiment and registered model (a server's access control); null over HTTP.</summary>
    internal SqlPermissionStore? Permissions => Database is null ? null : _permissions ??= new SqlPermissionStore(Database);

    private SqlPermissionStore? _permissions;

    /// <summary>The prediction log and its ground truth (serving); null over HTTP.</summary>
    internal SqlPredictionStore? Predictions => Database is null ? null : _predictions ??= new SqlPredictionStore(Database);

    private SqlPredictionStore? _predictions;

    /// <summary>A server's monitoring windows over REST; null on a database.</summary>
    internal Cairn.Monitoring.HttpMonitorClient? MonitorClient => _transport is { } transport ? _monitorClient ??= new Cairn.Monitoring.HttpMonitorClient(transport) : null;

    private Cairn.Monitoring.HttpMonitorClient? _monitorClient;

    /// <summary>Stored monitoring windows; null over HTTP.</summary>
    internal SqlMonitorStore? Monitoring => Database is null ? null : _monitoring ??= new SqlMonitorStore(Database);

    private SqlMonitorStore? _monitoring;

    /// <summary>Alert incidents: the database's (<see cref="SqlAlertStore"/>) or a server's over the shared transport.</summary>
    internal Cairn.Monitoring.Alerts.IAlertIncidentSource Alerts => _alerts ??= Database is not null
        ? new SqlAlertStore(Database)
        : _transport is not null ? new Cairn.Monitoring.Alerts.HttpAlertIncidents(_transport)
        : throw new CairnException(ErrorCode.NOT_IMPLEMENTED, $"The store behind '{SecretRedaction.StoreUri(Uri)}' has no alert incidents.");

    private Cairn.Monitoring.Alerts.IAlertIncidentSource? _alerts;

    /// <summary>The artifacts folder beside an opened database (the default artifact root); null over HTTP.</summary>
    internal string? LocalArtifactsFolder { get; }

    /// <summary>
    /// A set over a tracking store the caller opened (a wrapper around a real store, say); it has no registry, and disposing
    /// the set disposes <paramref name="tracking"/>.
    /// </summary>
    internal static CairnStores Over(ITrackingStore tracking) =>
        new("store:" + tracking.GetType().Name, tracking, null, tracking, null, null);

    /// <summary>
    /// Opens the stores behind <paramref name="uri"/>: <c>http(s)://host:port</c> for a server; a folder (its <c>cairn.db</c>),
    /// a <c>.db</c> file, <c>file:///folder</c> or <c>sqlite:///path.db</c> (<c>sqlite:////absolute.db</c>) for SQLite;
    /// <c>postgresql://user:pass@host/db?schema=name</c> or an Npgsql connection string (<c>Host=...</c>) for PostgreSQL.
    /// A database is created and migrated when needed.
    /// </summary>
    public static async Task<CairnStores> OpenAsync(string uri, CairnStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uri);
        options ??= new CairnStoreOptions();
        var timeProvider = options.TimeProvider ?? TimeProvider.System;
        if (StoreUri.IsHttp(uri))
        {
            var transport = new MlflowHttpTransport(uri, options.Http);
            return new CairnStores(uri, new HttpTrackingStore(transport, ownsTransport: false, timeProvider),
                new HttpRegistryStore(transport, ownsTransport: false), transport, null, null,
                deployments: new HttpDeploymentStore(transport, ownsTransport: false), transport: transport);
        }

        var backend = StoreUri.Backend(uri);
        var localArtifacts = StoreUri.DefaultArtifactsFolder(backend);
        var artifactRoot = options.DefaultArtifactRoot ?? localArtifacts;
        SqlDatabase database = StoreUri.IsPostgres(backend)
            ? await PostgresDatabase.OpenAsync(backend, artifactRoot, timeProvider, cancellationToken).ConfigureAwait(false)
            : await SqliteDatabase.OpenAsync(StoreUri.SqlitePath(backend), artifactRoot, timeProvider, cancellationToken).ConfigureAwait(false);
        var tracking = new SqlTrackingStore(database);
        return new CairnStores(uri, tracking, new SqlRegistryStore(database, tracking), database, database, localArtifacts,
            new SqlUserStore(database), new SqlDeploymentStore(database));
    }

    /// <summary>Closes the database (draining the SQLite writer) or the HTTP connection pool.</summary>
    public void Dispose() => _owned.Dispose();
}

/// <summary>How a tracking URI names its backend.</summary>
internal static class StoreUri
{
    public static bool IsHttp(string uri) =>
        uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    public static bool IsPostgres(string backend) =>
        backend.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) ||
        backend.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
        backend.Contains("Host=", StringComparison.OrdinalIgnoreCase);

    /// <summary>A database URI with <c>file://</c> turned into its path and a plain folder or file made absolute.</summary>
    public static string Backend(string uri)
    {
        var backend = uri.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(uri).LocalPath : uri;
        return IsPostgres(backend) || backend.Contains("://", StringComparison.Ordinal) ? backend : Path.GetFullPath(backend);
    }

    /// <summary>The artifacts folder beside a database: next to the SQLite file, or <c>./.cairn/artifacts</c> for PostgreSQL.</summary>
    public static string DefaultArtifactsFolder(string backend) => IsPostgres(backend)
        ? Path.GetFullPath(Path.Combine(".cairn", "artifacts"))
        : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(SqlitePath(backend)))!, "artifacts");

    /// <summary>The database file a SQLite URI or folder names.</summary>
    public static string SqlitePath(string uri)
    {
        if (uri.StartsWith("sqlite:///", StringComparison.OrdinalIgnoreCase))
            return uri["sqlite:///".Length..]; // sqlite:///relative.db, sqlite:////absolute.db (SQLAlchemy's form)
        if (uri.StartsWith("sqlite://", StringComparison.OrdinalIgnoreCase))
            throw new InvalidParameterValueException($"Invalid backend store URI '{SecretRedaction.StoreUri(uri)}': use sqlite:///relative/path.db or sqlite:////absolute/path.db.");
        if (uri.Contains("://", StringComparison.Ordinal))
            throw new InvalidParameterValueException($"Invalid backend store URI '{SecretRedaction.StoreUri(uri)}': the scheme is not supported; use a folder, sqlite:///path, postgresql://... or http(s)://...");
        return uri.EndsWith(".db", StringComparison.OrdinalIgnoreCase) || uri.EndsWith(".sqlite", StringComparison.OrdinalIgnoreCase)
            ? uri
            : Path.Combine(uri, "cairn.db");
    }
}
