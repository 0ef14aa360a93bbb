namespace Cairn.Auth;

/// <summary>A user of a server with access control on. The password hash never leaves the store except through <see cref="IUserStore.FindCredentialsAsync"/>.</summary>
public sealed record User(long Id, string Username, bool IsAdmin, long CreationTime);

/// <summary>A user's access token as listed: never the token itself nor its hash.</summary>
public sealed record AccessToken(string Id, long UserId, string Name, long CreationTime, long? LastUsedTime, long? RevokedTime)
{
    public bool IsRevoked => RevokedTime is not null;
}

/// <summary>
/// Users and their access tokens, in the tracking database beside tracking and the registry. Passwords arrive hashed (the
/// server hashes them) and tokens as their SHA-256 (<see cref="AccessTokens.Hash"/>): the store holds no secret. Unknown users
/// and tokens are <see cref="ResourceDoesNotExistException"/>; a taken user name is <see cref="ResourceAlreadyExistsException"/>.
/// </summary>
public interface IUserStore
{
    /// <summary>Adds a user; the name must satisfy <see cref="UserValidator.ValidateUsername"/>.</summary>
    Task<User> CreateUserAsync(string username, string passwordHash, bool isAdmin = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds <paramref name="username"/> as an admin only when no user exists yet (the first start with access control on).
    /// Returns false, changing nothing, when there already is a user.
    /// </summary>
    Task<bool> CreateFirstAdminAsync(string username, string passwordHash, CancellationToken cancellationToken = default);

    Task<User> GetUserAsync(string username, CancellationToken cancellationToken = default);

    /// <summary>The user and the stored password hash, or null when there is no such user (logging in).</summary>
    Task<(User User, string PasswordHash)?> FindCredentialsAsync(string username, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<User>> ListUsersAsync(CancellationToken cancellationToken = default);

    Task UpdatePasswordAsync(string username, string passwordHash, CancellationToken cancellationToken = default);

    Task UpdateAdminAsync(string username, bool isAdmin, CancellationToken cancellationToken = default);

    /// <summary>Deletes the user with their tokens.</summary>
    Task DeleteUserAsync(string username, CancellationToken cancellationToken = default);

    /// <summary>Records a new token of <paramref name="userId"/> by its hash; the name must satisfy <see cref="UserValidator.ValidateTokenName"/>.</summary>
    Task<AccessToken> CreateTokenAsync(long userId, string name, string tokenHash, CancellationToken cancellationToken = default);

    /// <summary>The user's tokens, revoked ones included, oldest first.</summary>
    Task<IReadOnlyList<AccessToken>> ListTokensAsync(long userId, CancellationToken cancellationToken = default);

    Task<AccessToken> GetTokenAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Revokes a token (again is a no-op) and returns it as stored.</summary>
    Task<AccessToken> RevokeTokenAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>The unrevoked token with this hash and its owner, or null; marks it used now.</summary>
    Task<(AccessToken Token, User User)?> UseTokenAsync(string tokenHash, CancellationToken cancellationToken = default);
}
