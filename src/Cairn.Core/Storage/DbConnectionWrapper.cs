using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;

namespace Cairn.Storage;

/// <summary>A connection that forwards to another; subclasses decide what disposing means (e.g. return to a pool).</summary>
internal abstract class DbConnectionWrapper(DbConnection inner) : DbConnection
{
    [AllowNull]
    public override string ConnectionString
    {
        get => inner.ConnectionString;
        set => inner.ConnectionString = value;
    }

    public override string Database => inner.Database;
    public override string DataSource => inner.DataSource;
    public override string ServerVersion => inner.ServerVersion;
    public override ConnectionState State => inner.State;
    public override void ChangeDatabase(string databaseName) => inner.ChangeDatabase(databaseName);
    public override void Close() { }
    public override void Open() => inner.Open();
    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => inner.BeginTransaction(isolationLevel);
    protected override DbCommand CreateDbCommand() => inner.CreateCommand();
}
