using Cairn.Storage;
using Npgsql;

namespace Cairn.Tests.Storage;

/// <summary>
/// The store sets a contract suite opens and closes with it: a fresh SQLite file each in a temp folder, or a fresh
/// PostgreSQL schema each (dropped afterwards) when CAIRN_TEST_POSTGRES is set, the suite skipped with the reason otherwise.
/// </summary>
internal abstract class TestStoreSets : IAsyncDisposable
{
    /// <summary>SQLite files named <c>{prefix}-N.db</c>.</summary>
    public static TestStoreSets Sqlite(string prefix) => new SqliteSets(prefix);

    /// <summary>PostgreSQL schemas named <c>{schemaPrefix}...</c>; <paramref name="contract"/> names the suite in the skip reason.</summary>
    public static TestStoreSets Postgres(string schemaPrefix, string contract) => new PostgresSets(schemaPrefix, contract);

    public abstract Task<CairnStores> OpenAsync(TimeProvider time, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    private sealed class SqliteSets(string prefix) : TestStoreSets
    {
        private readonly TempDirectory _directory = new();
        private readonly List<CairnStores> _stores = [];

        public override async Task<CairnStores> OpenAsync(TimeProvider time, CancellationToken cancellationToken)
        {
            var stores = await CairnStores.OpenAsync(_directory.Combine($"{prefix}-{_stores.Count}.db"),
                new CairnStoreOptions { DefaultArtifactRoot = _directory.Combine("artifacts"), TimeProvider = time }, cancellationToken);
            _stores.Add(stores);
            return stores;
        }

        public override ValueTask DisposeAsync()
        {
            foreach (var store in _stores) store.Dispose();
            _directory.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class PostgresSets(string schemaPrefix, string contract) : TestStoreSets
    {
        private static readonly string? ConnectionString = Environment.GetEnvironmentVariable("CAIRN_TEST_POSTGRES");
        private readonly List<(CairnStores Store, string Schema)> _stores = [];

        public override async Task<CairnStores> OpenAsync(TimeProvider time, CancellationToken cancellationToken)
        {
            Assert.SkipWhen(string.IsNullOrWhiteSpace(ConnectionString),
                $"CAIRN_TEST_POSTGRES is unset, so PostgreSQL is absent: set it to an Npgsql connection string (e.g. from .ci/postgres.sh start) to run the PostgreSQL {contract}.");
            var schema = schemaPrefix + Guid.NewGuid().ToString("N")[..16];
            var connectionString = new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema }.ToString();
            var stores = await CairnStores.OpenAsync(connectionString, new CairnStoreOptions { DefaultArtifactRoot = "s3://cairn-test/artifacts", TimeProvider = time }, cancellationToken);
            _stores.Add((stores, schema));
            return stores;
        }

        public override async ValueTask DisposeAsync()
        {
            foreach (var (store, _) in _stores) store.Dispose();
            if (_stores.Count == 0 || ConnectionString is null) return;
            await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
            foreach (var (_, schema) in _stores)
            {
                await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
    }
}
