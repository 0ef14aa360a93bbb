using Cairn.Registry;
using Cairn.Storage;
using Cairn.Tracking;

namespace Cairn.Client;

/// <summary>
/// The one entry point of the SDK: the same API over a local folder, a database or a server.
/// <code>
/// using var client = CairnClient.FromEnvironment();
/// using var run = client.StartRun("churn", runName: "baseline");
/// run.LogParam("lr", 0.01);
/// for (var epoch = 0; epoch &lt; 10; epoch++) run.LogMetric("loss", loss, step: epoch);
/// </code>
/// Thread-safe. Dispose the client after its runs.
/// </summary>
public sealed partial class CairnClient : IDisposable, IRunArtifactWriter
{
    private readonly CairnStores _stores;
    private readonly CairnClientOptions _options;
    private readonly string? _artifactsDestination;
    private bool _ownsStores = true;

    private CairnClient(CairnStores stores, CairnClientOptions options, string? artifactsDestination)
    {
        _stores = stores;
        _options = options;
        _artifactsDestination = artifactsDestination;
    }

    /// <summary>
    /// A client over stores someone else opened and closes (a server's): its <see cref="Dispose"/> leaves them open.
    /// <paramref name="artifactsDestination"/> is the artifact proxy's local folder, or null.
    /// </summary>
    internal static CairnClient OverStores(CairnStores stores, string? artifactsDestination) =>
        new(stores, new CairnClientOptions(), artifactsDestination ?? stores.LocalArtifactsFolder) { _ownsStores = false };

    /// <summary>The tracking store behind the client, for everything the ergonomic methods do not cover.</summary>
    public ITrackingStore Store => _stores.Tracking;

    /// <summary>The stores behind the client (the database an import writes into, say).</summary>
    internal CairnStores Stores => _stores;

    /// <summary>The tracking URI the client was opened with.</summary>
    public string TrackingUri => _stores.Uri;

    /// <summary>
    /// The model registry behind the tracking URI: over the same database as <see cref="Store"/> in-process, the server's
    /// registry API over HTTP (same connection pool, credentials and retries as the tracking calls).
    /// </summary>
    public IRegistryStore Registry => _stores.Registry;

    /// <summary>Named deployments: routes, canary steps, promotion, rollback and their revision history.</summary>
    public Cairn.Serving.IDeploymentStore Deployments => _stores.Deployments;

    /// <summary>True when the client talks to a server over HTTP.</summary>
    public bool IsRemote => _stores.IsRemote;

    /// <summary>The clock of the timestamps the client writes (<see cref="CairnClientOptions.TimeProvider"/>).</summary>
    public TimeProvider TimeProvider => _options.TimeProvider;

    /// <summary>
    /// Opens <paramref name="trackingUri"/>: <c>http(s)://host:port</c> for a server, or a folder, <c>file:///folder</c>,
    /// <c>sqlite:///path.db</c> or <c>postgresql://...</c> for a database opened in-process. Blocks while a database is opened;
    /// async code should prefer <see cref="OpenAsync"/>. Credentials come from <paramref name="options"/> only; see
    /// <see cref="FromEnvironment"/> and <see cref="CairnClientOptions.FromEnvironment"/> for MLflow's variables.
    /// </summary>
    public static CairnClient Open(string trackingUri, CairnClientOptions? options = null) =>
        Task.Run(() => OpenAsync(trackingUri, options)).GetAwaiter().GetResult();

    /// <summary>Opens <paramref name="trackingUri"/>; see <see cref="Open"/>.</summary>
    public static async Task<CairnClient> OpenAsync(string trackingUri, CairnClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(trackingUri);
        options ??= new CairnClientOptions();
        var stores = await CairnStores.OpenAsync(trackingUri, new CairnStoreOptions
        {
            DefaultArtifactRoot = options.DefaultArtifactRoot,
            Http = options.Http,
            TimeProvider = options.TimeProvider,
        }, cancellationToken).ConfigureAwait(false);
        return new CairnClient(stores, options, options.ArtifactsDestination ?? stores.LocalArtifactsFolder);
    }

    /// <summary>
    /// Opens the tracking URI of the environment: CAIRN_TRACKING_URI, else MLFLOW_TRACKING_URI, else the embedded store in
    /// CAIRN_HOME (default <c>./.cairn</c>). MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD,
    /// authenticate to a server unless <paramref name="options"/> says otherwise; MLFLOW_TRACKING_INSECURE_TLS=true accepts a
    /// self-signed certificate.
    /// </summary>
    public static CairnClient FromEnvironment(CairnClientOptions? options = null)
    {
        options ??= new CairnClientOptions();
        options.Http.ApplyEnvironment(Environment.GetEnvironmentVariable);
        return Open(ResolveTrackingUri(Environment.GetEnvironmentVariable), options);
    }

    /// <summary>The tracking URI an environment names: CAIRN_TRACKING_URI, MLFLOW_TRACKING_URI, then CAIRN_HOME or <c>./.cairn</c> as a full path.</summary>
    public static string ResolveTrackingUri(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        if (getEnvironmentVariable("CAIRN_TRACKING_URI") is { Length: > 0 } cairn) return cairn;
        if (getEnvironmentVariable("MLFLOW_TRACKING_URI") is { Length: > 0 } mlflow) return mlflow;
        return Path.GetFullPath(getEnvironmentVariable("CAIRN_HOME") is { Length: > 0 } home ? home : ".cairn");
    }

    /// <summary>
    /// Starts a run in the experiment named <paramref name="experimentName"/> (created when missing) and returns it for logging.
    /// Sets MLflow's system tags: <c>mlflow.user</c>, <c>mlflow.source.name</c>, <c>mlflow.source.type</c> (LOCAL) and,
    /// for a nested run, <c>mlflow.parentRunId</c>. Tags given in <paramref name="tags"/> win over these.
    /// Blocks for the round trip; async code should prefer <see cref="StartRunAsync(string, string?, IReadOnlyDictionary{string, string}?, string?, CancellationToken)"/>.
    /// </summary>
    public ActiveRun StartRun(string experimentName, string? runName = null, IReadOnlyDictionary<string, string>? tags = null, string? parentRunId = null) =>
        Task.Run(() => StartRunAsync(experimentName, runName, tags, parentRunId)).GetAwaiter().GetResult();

    /// <summary>Starts a run; see <see cref="StartRun(string, string?, IReadOnlyDictionary{string, string}?, string?)"/>.</summary>
    public async Task<ActiveRun> StartRunAsync(string experimentName, string? runName = null, IReadOnlyDictionary<string, string>? tags = null,
        string? parentRunId = null, CancellationToken cancellationToken = default)
    {
        TrackingValidator.ValidateExperimentName(experimentName);
        if (parentRunId is not null)
        {
            // Fail now, not in the UI later: a nested run must point at a run that exists.
            await Store.GetRunAsync(parentRunId, cancellationToken).ConfigureAwait(false);
        }
        var experimentId = await Store.GetOrCreateExperimentAsync(experimentName, cancellationToken).ConfigureAwait(false);
        return await CreateRunInAsync(experimentId, runName, tags, parentRunId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="body"/> in a new run and ends it: FINISHED when the body returns, FAILED when it throws
    /// (KILLED when it is cancelled), rethrowing the body's exception. The reliable way to get FAILED in async code.
    /// </summary>
    public async Task RunAsync(string experimentName, Func<ActiveRun, Task> body, string? runName = null, IReadOnlyDictionary<string, string>? tags = null,
        string? parentRunId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var run = await StartRunAsync(experimentName, runName, tags, parentRunId, cancellationToken).ConfigureAwait(false);
        RunStatus status;
        try
        {
            await body(run).ConfigureAwait(false);
            status = RunStatus.FINISHED;
        }
        catch (OperationCanceledException)
        {
            await run.EndAsync(RunStatus.KILLED, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        catch
        {
            await run.EndAsync(RunStatus.FAILED, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        await run.EndAsync(status, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What MLflow records as mlflow.source.name: the program being run.</summary>
    private static string SourceName() =>
        System.Reflection.Assembly.GetEntryAssembly()?.Location is { Length: > 0 } location ? location
        : Environment.ProcessPath ?? "unknown";

    /// <summary>Closes the stores (the database or the connection pool). End the runs first.</summary>
    public void Dispose()
    {
        if (_ownsStores) _stores.Dispose();
    }
}
