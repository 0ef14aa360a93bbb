using System.Data.Common;
using Cairn.Auth;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// Users and access tokens over SQL, on the same <see cref="SqlDatabase"/> as tracking and the registry (the same
/// connections and, on SQLite, the same writer). The owner of the database closes it.
/// </summary>
internal sealed class SqlUserStore(SqlDatabase database) : IUserStore
{
    // Rows mapped by property: SQLite reports no column type for an expression over zero rows, which constructor mapping needs.
    private sealed class UserRow
    {
        public long Id { get; set; }
        public string Username { get; set; } = "";
        public long IsAdmin { get; set; }
        public long CreationTime { get; set; }
        public string PasswordHash { get; set; } = "";

        public User ToUser() => new(Id, Username, IsAdmin != 0, CreationTime);
    }

    private sealed class TokenRow
    {
        public string Id { get; set; } = "";
        public long UserId { get; set; }
        public string Name { get; set; } = "";
        public long CreationTime { get; set; }
        public long? LastUsedTime { get; set; }
        public long? RevokedTime { get; set; }

        public AccessToken ToToken() => new(Id, UserId, Name, CreationTime, LastUsedTime, RevokedTime);
    }

    // is_admin is BOOLEAN on PostgreSQL and 0/1 on SQLite: read as a number on both.
    private const string UserColumns =
        "u.id AS Id, u.username AS Username, CAST(CASE WHEN u.is_admin THEN 1 ELSE 0 END AS BIGINT) AS IsAdmin, u.creation_time AS CreationTime, u.password_hash AS PasswordHash";

    private const string TokenColumns =
        "t.id AS Id, t.user_id AS UserId, t.name AS Name, t.creation_time AS CreationTime, t.last_used_time AS LastUsedTime, t.revoked_time AS RevokedTime";

    public SqlDatabase Database { get; } = database;

    private static ResourceDoesNotExistException UserNotFound(string username) => new($"User with username={username} not found");

    private static ResourceDoesNotExistException TokenNotFound(string id) => new($"Access token with id={id} not found");

    public Task<User> CreateUserAsync(string username, string passwordHash, bool isAdmin = false, CancellationToken cancellationToken = default)
    {
        UserValidator.ValidateUsername(username);
        ArgumentException.ThrowIfNullOrEmpty(passwordHash);
        var alreadyExists = $"User (username={username}) already exists.";
        return Database.TranslateAsync(() => Database.WriteAsync(async (c, tx) =>
        {
            var existing = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT id FROM users WHERE username = @username", new { username }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (existing is not null) throw new ResourceAlreadyExistsException(alreadyExists);
            return await InsertUserAsync(c, tx, username, passwordHash, isAdmin, cancellationToken).ConfigureAwait(false);
        }, cancellationToken), alreadyExists);
    }

    public async Task<bool> CreateFirstAdminAsync(string username, string passwordHash, CancellationToken cancellationToken = default)
    {
        UserValidator.ValidateUsername(username);
        ArgumentException.ThrowIfNullOrEmpty(passwordHash);
        try
        {
            return await Database.WriteAsync(async (c, tx) =>
            {
                var count = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM users", transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                if (count > 0) return false;
                await InsertUserAsync(c, tx, username, passwordHash, true, cancellationToken).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Database.IsUniqueViolation(e))
        {
            // Another replica created the same first admin at the same moment.
            return false;
        }
    }

    private async Task<User> InsertUserAsync(DbConnection c, DbTransaction tx, string username, string passwordHash, bool isAdmin, CancellationToken cancellationToken)
    {
        var now = Database.NowMs();
        var id = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "INSERT INTO users (username, password_hash, is_admin, creation_time) VALUES (@username, @passwordHash, @isAdmin, @now) RETURNING id",
            new { username, passwordHash, isAdmin, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return new User(id, username, isAdmin, now);
    }

    public async Task<User> GetUserAsync(string username, CancellationToken cancellationToken = default) =>
        (await FindCredentialsAsync(username, cancellationToken).ConfigureAwait(false))?.User ?? throw UserNotFound(username);

    public async Task<(User User, string PasswordHash)?> FindCredentialsAsync(string username, CancellationToken cancellationToken = default)
    {
        UserValidator.ValidateUsername(username);
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"SELECT {UserColumns} FROM users u WHERE u.username = @username", new { username }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is null ? null : (row.ToUser(), row.PasswordHash);
    }

    public async Task<IReadOnlyList<User>> ListUsersAsync(CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<UserRow>(new CommandDefinition(
            $"SELECT {UserColumns} FROM users u ORDER BY u.id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToUser()).ToList();
    }

    public Task UpdatePasswordAsync(string username, string passwordHash, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(passwordHash);
        return UpdateUserAsync(username, "password_hash = @value", passwordHash, cancellationToken);
    }

    public Task UpdateAdminAsync(string username, bool isAdmin, CancellationToken cancellationToken = default) =>
        UpdateUserAsync(username, "is_admin = @value", isAdmin, cancellationToken);

    private Task UpdateUserAsync<T>(string username, string assignment, T value, CancellationToken cancellationToken)
    {
        UserValidator.ValidateUsername(username);
        return Database.WriteAsync(async (c, tx) =>
        {
            var changed = await c.ExecuteAsync(new CommandDefinition(
                $"UPDATE users SET {assignment} WHERE username = @username", new { username, value }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return changed == 0 ? throw UserNotFound(username) : 0;
        }, cancellationToken);
    }

    public Task DeleteUserAsync(string username, CancellationToken cancellationToken = default)
    {
        UserValidator.ValidateUsername(username);
        return Database.WriteAsync(async (c, tx) =>
        {
            var id = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT id FROM users WHERE username = @username", new { username }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                ?? throw UserNotFound(username);
            // Explicitly rather than by ON DELETE CASCADE alone: SQLite connections may run without foreign keys.
            await c.ExecuteAsync(new CommandDefinition("DELETE FROM access_tokens WHERE user_id = @id", new { id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            await c.ExecuteAsync(new CommandDefinition("DELETE FROM users WHERE id = @id", new { id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    public Task<AccessToken> CreateTokenAsync(long userId, string name, string tokenHash, CancellationToken cancellationToken = default)
    {
        UserValidator.ValidateTokenName(name);
        ArgumentException.ThrowIfNullOrEmpty(tokenHash);
        return Database.WriteAsync(async (c, tx) =>
        {
            var live = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT (SELECT COUNT(*) FROM access_tokens WHERE user_id = u.id AND revoked_time IS NULL) FROM users u WHERE u.id = @userId",
                new { userId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false)
                ?? throw new ResourceDoesNotExistException($"User with id={userId} not found");
            if (live >= UserValidator.MaxTokensPerUser)
                throw new CairnException(ErrorCode.RESOURCE_EXHAUSTED,
                    $"A user may hold at most {UserValidator.MaxTokensPerUser} live access tokens; revoke one first.");
            var token = new AccessToken(AccessTokens.NewId(), userId, name, Database.NowMs(), null, null);
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO access_tokens (id, user_id, name, token_hash, creation_time) VALUES (@Id, @UserId, @Name, @tokenHash, @CreationTime)",
                new { token.Id, token.UserId, token.Name, tokenHash, token.CreationTime }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return token;
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<AccessToken>> ListTokensAsync(long userId, CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<TokenRow>(new CommandDefinition(
            $"SELECT {TokenColumns} FROM access_tokens t WHERE t.user_id = @userId ORDER BY t.creation_time, t.id", new { userId },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => r.ToToken()).ToList();
    }

    public async Task<AccessToken> GetTokenAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return (await c.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
            $"SELECT {TokenColumns} FROM access_tokens t WHERE t.id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false))?.ToToken()
            ?? throw TokenNotFound(id);
    }

    public Task<AccessToken> RevokeTokenAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return Database.WriteAsync(async (c, tx) =>
        {
            var now = Database.NowMs();
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE access_tokens SET revoked_time = COALESCE(revoked_time, @now) WHERE id = @id", new { id, now }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return (await c.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
                $"SELECT {TokenColumns} FROM access_tokens t WHERE t.id = @id", new { id }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false))?.ToToken()
                ?? throw TokenNotFound(id);
        }, cancellationToken);
    }

    public async Task<(AccessToken Token, User User)?> UseTokenAsync(string tokenHash, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenHash);
        // A read first: an unknown or revoked token (what an attacker sends) costs no write.
        await using (var read = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            var live = await read.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COUNT(*) FROM access_tokens WHERE token_hash = @tokenHash AND revoked_time IS NULL", new { tokenHash },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (live == 0) return null;
        }
        return await Database.WriteAsync<(AccessToken, User)?>(async (c, tx) =>
        {
            var now = Database.NowMs();
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE access_tokens SET last_used_time = @now WHERE token_hash = @tokenHash AND revoked_time IS NULL", new { tokenHash, now }, tx,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            var token = await c.QuerySingleOrDefaultAsync<TokenRow>(new CommandDefinition(
                $"SELECT {TokenColumns} FROM access_tokens t WHERE t.token_hash = @tokenHash AND t.revoked_time IS NULL", new { tokenHash }, tx,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (token is null) return null;
            var user = await c.QuerySingleAsync<UserRow>(new CommandDefinition(
                $"SELECT {UserColumns} FROM users u WHERE u.id = @UserId", new { token.UserId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return (token.ToToken(), user.ToUser());
        }, cancellationToken).ConfigureAwait(false);
    }
}
