using Cairn.Auth;
using Cairn.Storage;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Cairn.Tests.Storage;

/// <summary>What every <see cref="IUserStore"/> backend must do: users, admin flags, first admin, tokens by hash, revocation.</summary>
public abstract class UserStoreContract : IAsyncDisposable
{
    /// <summary>New, empty stores of the backend under test, writing times from <see cref="Time"/>.</summary>
    protected abstract Task<CairnStores> CreateStoresAsync();

    protected FakeTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private async Task<IUserStore> UsersAsync() => (await CreateStoresAsync()).Users;

    private static async Task<ErrorCode> ErrorOfAsync(Func<Task> action) => (await Assert.ThrowsAnyAsync<CairnException>(action)).ErrorCode;

    [Fact]
    public async Task Users_are_created_read_updated_and_deleted()
    {
        var users = await UsersAsync();
        var alice = await users.CreateUserAsync("alice", "hash-1", cancellationToken: Ct);
        Assert.False(alice.IsAdmin);
        Assert.Equal(Time.GetUtcNow().ToUnixTimeMilliseconds(), alice.CreationTime);
        var root = await users.CreateUserAsync("root", "hash-2", isAdmin: true, cancellationToken: Ct);
        Assert.True(root.IsAdmin);
        Assert.NotEqual(alice.Id, root.Id);

        Assert.Equal(alice, await users.GetUserAsync("alice", Ct));
        Assert.Equal(("hash-1"), (await users.FindCredentialsAsync("alice", Ct))!.Value.PasswordHash);
        Assert.Null(await users.FindCredentialsAsync("Alice", Ct)); // names are case-sensitive
        Assert.Equal(["alice", "root"], (await users.ListUsersAsync(Ct)).Select(u => u.Username));

        await users.UpdatePasswordAsync("alice", "hash-3", Ct);
        await users.UpdateAdminAsync("alice", true, Ct);
        var (updated, hash) = (await users.FindCredentialsAsync("alice", Ct))!.Value;
        Assert.True(updated.IsAdmin);
        Assert.Equal("hash-3", hash);
        await users.UpdateAdminAsync("alice", false, Ct);
        Assert.False((await users.GetUserAsync("alice", Ct)).IsAdmin);

        await users.DeleteUserAsync("alice", Ct);
        Assert.Null(await users.FindCredentialsAsync("alice", Ct));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.GetUserAsync("alice", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.UpdatePasswordAsync("alice", "h", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.UpdateAdminAsync("alice", true, Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.DeleteUserAsync("alice", Ct)));
    }

    [Fact]
    public async Task A_taken_name_is_RESOURCE_ALREADY_EXISTS_and_bad_names_are_INVALID_PARAMETER_VALUE()
    {
        var users = await UsersAsync();
        await users.CreateUserAsync("bob", "h", cancellationToken: Ct);
        Assert.Equal(ErrorCode.RESOURCE_ALREADY_EXISTS, await ErrorOfAsync(() => users.CreateUserAsync("bob", "h2", cancellationToken: Ct)));
        foreach (var bad in new[] { "", "a:b", "new\nline", " x", new string('n', UserValidator.MaxUsernameLength + 1) })
            Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => users.CreateUserAsync(bad, "h", cancellationToken: Ct)));
        Assert.NotNull(await users.CreateUserAsync(new string('n', UserValidator.MaxUsernameLength), "h", cancellationToken: Ct));
    }

    [Fact]
    public async Task The_first_admin_is_created_only_while_there_is_no_user()
    {
        var users = await UsersAsync();
        Assert.True(await users.CreateFirstAdminAsync("admin", "h", Ct));
        Assert.True((await users.GetUserAsync("admin", Ct)).IsAdmin);
        Assert.False(await users.CreateFirstAdminAsync("admin", "other", Ct));
        Assert.False(await users.CreateFirstAdminAsync("second", "other", Ct));
        Assert.Equal("h", (await users.FindCredentialsAsync("admin", Ct))!.Value.PasswordHash);
        Assert.Single(await users.ListUsersAsync(Ct));
    }

    [Fact]
    public async Task Tokens_are_found_by_hash_until_revoked_and_go_with_their_user()
    {
        var users = await UsersAsync();
        var carol = await users.CreateUserAsync("carol", "h", cancellationToken: Ct);
        var secret = AccessTokens.NewSecret();
        var token = await users.CreateTokenAsync(carol.Id, "ci", AccessTokens.Hash(secret), Ct);
        Assert.Equal("ci", token.Name);
        Assert.False(token.IsRevoked);

        Time.Advance(TimeSpan.FromSeconds(5));
        var (used, owner) = (await users.UseTokenAsync(AccessTokens.Hash(secret), Ct))!.Value;
        Assert.Equal(token.Id, used.Id);
        Assert.Equal(carol, owner);
        Assert.Equal(Time.GetUtcNow().ToUnixTimeMilliseconds(), used.LastUsedTime);
        Assert.Null(await users.UseTokenAsync(AccessTokens.Hash(secret + "x"), Ct));

        var listed = Assert.Single(await users.ListTokensAsync(carol.Id, Ct));
        Assert.Equal(used, listed);
        Assert.Equal(used, await users.GetTokenAsync(token.Id, Ct));

        var revoked = await users.RevokeTokenAsync(token.Id, Ct);
        Assert.True(revoked.IsRevoked);
        Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(revoked.RevokedTime, (await users.RevokeTokenAsync(token.Id, Ct)).RevokedTime); // again: unchanged
        Assert.Null(await users.UseTokenAsync(AccessTokens.Hash(secret), Ct));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.RevokeTokenAsync("nope", Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.GetTokenAsync("nope", Ct)));

        var other = AccessTokens.NewSecret();
        var live = await users.CreateTokenAsync(carol.Id, "laptop", AccessTokens.Hash(other), Ct);
        await users.DeleteUserAsync("carol", Ct);
        Assert.Null(await users.UseTokenAsync(AccessTokens.Hash(other), Ct));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.GetTokenAsync(live.Id, Ct)));
        Assert.Equal(ErrorCode.RESOURCE_DOES_NOT_EXIST, await ErrorOfAsync(() => users.CreateTokenAsync(carol.Id, "late", AccessTokens.Hash("x"), Ct)));
    }

    [Fact]
    public async Task Token_names_are_checked_and_live_tokens_per_user_are_bounded()
    {
        var users = await UsersAsync();
        var dave = await users.CreateUserAsync("dave", "h", cancellationToken: Ct);
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => users.CreateTokenAsync(dave.Id, " ", "hash", Ct)));
        Assert.Equal(ErrorCode.INVALID_PARAMETER_VALUE, await ErrorOfAsync(() => users.CreateTokenAsync(dave.Id, new string('t', 256), "hash", Ct)));
        var ids = new List<string>();
        for (var i = 0; i < UserValidator.MaxTokensPerUser; i++)
            ids.Add((await users.CreateTokenAsync(dave.Id, "t" + i, AccessTokens.Hash("secret" + i), Ct)).Id);
        var first = ids[0];
        Assert.Equal(ErrorCode.RESOURCE_EXHAUSTED, await ErrorOfAsync(() => users.CreateTokenAsync(dave.Id, "one-more", AccessTokens.Hash("more"), Ct)));
        await users.RevokeTokenAsync(first, Ct);
        Assert.NotNull(await users.CreateTokenAsync(dave.Id, "one-more", AccessTokens.Hash("more"), Ct));
    }

    [Fact]
    public void Secrets_are_random_prefixed_and_hashed_as_hex_SHA256()
    {
        var a = AccessTokens.NewSecret();
        Assert.StartsWith(AccessTokens.Prefix, a, StringComparison.Ordinal);
        Assert.Equal(AccessTokens.Prefix.Length + 43, a.Length); // 32 bytes in unpadded base64url
        Assert.NotEqual(a, AccessTokens.NewSecret());
        Assert.Equal("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", AccessTokens.Hash("test"));
    }
}

/// <summary>The user store contract over a real SQLite file, one per test.</summary>
public sealed class SqliteUserStoreTests : UserStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Sqlite("users");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>The user store contract over PostgreSQL when CAIRN_TEST_POSTGRES is set; each store gets its own schema, dropped afterwards.</summary>
public sealed class PostgresUserStoreTests : UserStoreContract
{
    private readonly TestStoreSets _sets = TestStoreSets.Postgres("cairn_users_", "user store contract");

    protected override Task<CairnStores> CreateStoresAsync() => _sets.OpenAsync(Time, Ct);

    public override async ValueTask DisposeAsync()
    {
        await _sets.DisposeAsync();
        await base.DisposeAsync();
    }
}
