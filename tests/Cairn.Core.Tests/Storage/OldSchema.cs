using Cairn.Storage;
using Microsoft.Data.Sqlite;

namespace Cairn.Tests;

/// <summary>
/// Builds a SQLite file as an older Cairn left it, for the in-place upgrade tests: the migrations it had, applied and
/// recorded in <c>schema_version</c>, then the test's own rows.
/// </summary>
internal static class OldSchema
{
    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Applies and records the migrations <paramref name="which"/> picks (creating <c>schema_version</c> when missing).</summary>
    public static void ApplyMigrations(SqliteConnection connection, Func<int, bool> which)
    {
        Execute(connection, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, description TEXT NOT NULL, applied_time BIGINT NOT NULL)");
        foreach (var migration in Migrations.All.Where(m => which(m.Version)))
        {
            Execute(connection, migration.Sql(SqlFlavor.Sqlite));
            Execute(connection, $"INSERT INTO schema_version (version, description, applied_time) VALUES ({migration.Version}, 'old', 1)");
        }
    }

    /// <summary>The versions recorded in the file, in order.</summary>
    public static List<long> SchemaVersions(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM schema_version ORDER BY version";
        using var reader = command.ExecuteReader();
        var versions = new List<long>();
        while (reader.Read()) versions.Add(reader.GetInt64(0));
        return versions;
    }
}
