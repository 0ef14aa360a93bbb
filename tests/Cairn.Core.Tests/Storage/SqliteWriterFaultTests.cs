using Cairn.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace Cairn.Tests.Storage;

/// <summary>
/// The SQLite writer under faults of its own loop, caused for real: a write that breaks the group's transaction (so
/// the savepoint rollback throws a non-SQLite error), a full database inside the periodic optimize (SQLite's
/// max_page_count), and another connection holding the write lock past the busy timeout. Every waiting write must fail
/// with TEMPORARILY_UNAVAILABLE instead of hanging, the writer must say it is down, and writes must work again once the
/// cause is gone.
/// </summary>
public sealed class SqliteWriterFaultTests : IDisposable
{
    /// <summary>Longer than any answer here may take; a write still pending after it hangs.</summary>
    private static readonly TimeSpan NoHang = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _directory = new();
    private readonly string _path;

    public SqliteWriterFaultTests()
    {
        _path = _directory.Combine("writer.db");
        using var setup = Open(busyTimeoutMs: 1000);
        Execute(setup, "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL); CREATE INDEX ix_t_k ON t (k);");
    }

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private SqliteConnection Open(int busyTimeoutMs)
    {
        // Microsoft.Data.Sqlite retries a busy statement for DefaultTimeout on top of SQLite's busy timeout: both short here.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _path, Pooling = false, DefaultTimeout = 1 }.ToString());
        connection.Open();
        Execute(connection, $"PRAGMA busy_timeout = {busyTimeoutMs}");
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static async Task<long> ScalarAsync(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        await using var command = c.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    private static Task<int> Insert(SqliteWriter writer, string k) => writer.ExecuteAsync(async (c, tx) =>
    {
        await using var command = c.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "INSERT INTO t (k) VALUES ($k)";
        command.Parameters.AddWithValue("$k", k);
        return await command.ExecuteNonQueryAsync(Ct);
    }, Ct);

    private long Count(string k)
    {
        using var reader = Open(busyTimeoutMs: 1000);
        using var command = reader.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM t WHERE k = $k";
        command.Parameters.AddWithValue("$k", k);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>A write that holds the writer until released, so the writes queued meanwhile form the next group.</summary>
    private static (Task<int> Write, TaskCompletionSource Started, TaskCompletionSource Release) Blocker(SqliteWriter writer,
        Func<SqliteConnection, SqliteTransaction, Task>? also = null)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var write = writer.ExecuteAsync(async (c, tx) =>
        {
            started.TrySetResult();
            await release.Task;
            if (also is not null) await also(c, tx);
            return 0;
        }, Ct);
        return (write, started, release);
    }

    private static async Task AssertUnavailableAsync(Task write)
    {
        var error = await Assert.ThrowsAnyAsync<CairnException>(() => write.WaitAsync(NoHang, Ct));
        Assert.Equal(ErrorCode.TEMPORARILY_UNAVAILABLE, error.ErrorCode);
        Assert.Equal(503, error.HttpStatus);
    }

    private static async Task WaitUntilUpAsync(SqliteWriter writer)
    {
        var deadline = DateTime.UtcNow + NoHang;
        while (writer.Problem is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the writer did not restart: " + writer.Problem);
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task A_write_that_breaks_the_group_transaction_fails_the_group_with_503_and_the_writer_restarts()
    {
        await using var writer = new SqliteWriter(Open(busyTimeoutMs: 1000), restartDelay: TimeSpan.FromMilliseconds(500));
        var (first, started, release) = Blocker(writer);
        await started.Task.WaitAsync(NoHang, Ct);

        // Queued behind the blocker: one group of three. The middle one ends the transaction under the others (a bug in a
        // write), so rolling back its savepoint throws InvalidOperationException rather than a SqliteException.
        var before = Insert(writer, "before");
        var breaking = writer.ExecuteAsync<int>((c, tx) =>
        {
            tx.Rollback();
            throw new InvalidOperationException("a write that ended its transaction");
        }, Ct);
        var after = Insert(writer, "after");
        release.SetResult();
        await first.WaitAsync(NoHang, Ct);

        await AssertUnavailableAsync(before);
        await AssertUnavailableAsync(breaking);
        await AssertUnavailableAsync(after);

        // Down: it says why, and a new write fails at once instead of queueing.
        Assert.Contains("SQLite writer failed", writer.Problem, StringComparison.Ordinal);
        var refused = Insert(writer, "while-down");
        Assert.True(refused.IsCompleted, "a write to a writer that is down must fail at once");
        await AssertUnavailableAsync(refused);

        await WaitUntilUpAsync(writer);
        Assert.Equal(1, await Insert(writer, "later").WaitAsync(NoHang, Ct));
        Assert.Equal(1, Count("later"));
        Assert.Equal(0, Count("before") + Count("after") + Count("while-down"));
    }

    [Fact]
    public async Task A_full_database_in_the_periodic_optimize_fails_the_waiting_writes_with_503_and_writes_resume_when_space_is_back()
    {
        // Rows the planner has no statistics for: the optimize after the next commit wants to ANALYZE them, which needs
        // new pages (sqlite_stat1).
        using (var setup = Open(busyTimeoutMs: 1000))
            Execute(setup, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO t (k) SELECT 'k' || (i % 50) FROM n;");
        await using var writer = new SqliteWriter(Open(busyTimeoutMs: 1000), optimizeInterval: TimeSpan.Zero, restartDelay: TimeSpan.FromMilliseconds(500));

        // The blocker queries the table (so optimize considers it) and caps the file at its current size: the disk is full.
        var (first, started, release) = Blocker(writer, async (c, tx) =>
        {
            Assert.Equal(60, await ScalarAsync(c, tx, "SELECT COUNT(*) FROM t WHERE k = 'k7'"));
            var pages = await ScalarAsync(c, tx, "PRAGMA page_count");
            await ScalarAsync(c, tx, $"PRAGMA max_page_count = {pages}");
        });
        await started.Task.WaitAsync(NoHang, Ct);
        var queued = Enumerable.Range(0, 5).Select(i => Insert(writer, "queued")).ToList();
        release.SetResult();

        // The blocker itself committed before the optimize ran.
        Assert.Equal(0, await first.WaitAsync(NoHang, Ct));
        foreach (var write in queued) await AssertUnavailableAsync(write);
        Assert.Contains("full", writer.Problem, StringComparison.OrdinalIgnoreCase);

        // Space comes back; the writer restarts and the next writes (and optimizes) succeed.
        await WaitUntilUpAsync(writer);
        await writer.ExecuteAsync(async (c, tx) => await ScalarAsync(c, tx, "PRAGMA max_page_count = 1000000"), Ct).WaitAsync(NoHang, Ct);
        Assert.Null(writer.Problem);
        Assert.Equal(1, await Insert(writer, "later").WaitAsync(NoHang, Ct));
        Assert.Null(writer.Problem);
        Assert.Equal(1, Count("later"));
        Assert.Equal(0, Count("queued"));
    }

    [Fact]
    public async Task A_full_database_fails_a_write_with_503_not_500()
    {
        await using var writer = new SqliteWriter(Open(busyTimeoutMs: 1000));
        await writer.ExecuteAsync(async (c, tx) => await ScalarAsync(c, tx, $"PRAGMA max_page_count = {await ScalarAsync(c, tx, "PRAGMA page_count")}"), Ct);
        var big = writer.ExecuteAsync(async (c, tx) =>
        {
            await using var command = c.CreateCommand();
            command.Transaction = tx;
            command.CommandText = "INSERT INTO t (k) SELECT printf('%.5000c', 'x') FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT i FROM n)";
            return await command.ExecuteNonQueryAsync(Ct);
        }, Ct);
        await AssertUnavailableAsync(big);
        // One write's error, not a fault of the writer.
        Assert.Null(writer.Problem);
    }

    [Fact]
    public async Task Another_process_holding_the_write_lock_past_the_busy_timeout_fails_writes_with_503_and_they_work_once_it_lets_go()
    {
        await using var writer = new SqliteWriter(Open(busyTimeoutMs: 200));
        using var other = Open(busyTimeoutMs: 200);
        Execute(other, "BEGIN EXCLUSIVE");

        var writes = Enumerable.Range(0, 3).Select(_ => Insert(writer, "blocked")).ToList();
        foreach (var write in writes) await AssertUnavailableAsync(write);

        Execute(other, "ROLLBACK");
        await WaitUntilUpAsync(writer);
        Assert.Equal(1, await Insert(writer, "later").WaitAsync(NoHang, Ct));
        Assert.Equal(1, Count("later"));
    }
}
