using System.Data.Common;
using Cairn.Tracking;
using Dapper;


namespace Cairn.Storage;

/// <summary>
/// The tracking store over SQL (experiments, runs, params, metrics, tags, inputs), the same on SQLite and PostgreSQL.
/// It borrows connections, the write path and the dialect from the <see cref="SqlDatabase"/> it shares with the other
/// stores of the database; the owner of the database (<see cref="CairnStores"/>) closes it, not this store.
/// </summary>
internal sealed partial class SqlTrackingStore(SqlDatabase database) : ITrackingStore
{
    public const string DefaultExperimentId = SqlDatabase.DefaultExperimentId;
    public const string DefaultExperimentName = SqlDatabase.DefaultExperimentName;

    /// <summary>The database this store reads and writes.</summary>
    public SqlDatabase Database { get; } = database;

    /// <summary>Nothing to release: the database belongs to the set of stores that opened it.</summary>
    public void Dispose()
    {
    }

    private long NowMs() => Database.NowMs();

    private ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) => Database.OpenReadConnectionAsync(cancellationToken);

    private Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) => Database.WriteAsync(work, cancellationToken);

    private Task<T> TranslateAsync<T>(Func<Task<T>> action, string alreadyExistsMessage) => Database.TranslateAsync(action, alreadyExistsMessage);

    private string InSql(string column, string parameter, System.Collections.ICollection values) => Database.InSql(column, parameter, values);


    private string ExperimentArtifactLocation(string experimentId) => Database.ExperimentArtifactLocation(experimentId);

    private static string Stage(LifecycleStage stage) => stage == LifecycleStage.Active ? "active" : "deleted";

    private static LifecycleStage ParseStage(string stage) => stage == "deleted" ? LifecycleStage.Deleted : LifecycleStage.Active;

    private static string[] StagesFor(ViewType viewType) => viewType switch
    {
        ViewType.ACTIVE_ONLY => ["active"],
        ViewType.DELETED_ONLY => ["deleted"],
        _ => ["active", "deleted"],
    };

    private static long ParseExperimentId(string experimentId)
    {
        TrackingValidator.ValidateExperimentId(experimentId);
        return long.Parse(experimentId, System.Globalization.CultureInfo.InvariantCulture);
    }
}
