using System.Data.Common;
using Cairn.Registry;
using Cairn.Tracking;
using Dapper;


namespace Cairn.Storage;

/// <summary>
/// The model registry over SQL, on the same <see cref="SqlDatabase"/> as tracking: the same connections and the same
/// SQLite writer (one group commit for both), so a promotion gate reads a version's run metrics in the transaction that
/// moves the alias. <paramref name="tracking"/> resolves <c>runs:/</c> sources. The owner of the database closes it.
/// </summary>
internal sealed partial class SqlRegistryStore(SqlDatabase database, ITrackingStore tracking) : IRegistryStore
{
    private readonly ITrackingStore _tracking = tracking;

    /// <summary>The database this store reads and writes.</summary>
    public SqlDatabase Database { get; } = database;

    private long NowMs() => Database.NowMs();

    private ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) => Database.OpenReadConnectionAsync(cancellationToken);

    private Task<T> WriteAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) => Database.WriteAsync(work, cancellationToken);

    private Task<T> TranslateAsync<T>(Func<Task<T>> action, string alreadyExistsMessage) => Database.TranslateAsync(action, alreadyExistsMessage);

    private string InSql(string column, string parameter, System.Collections.ICollection values) => Database.InSql(column, parameter, values);

}
