using System.Net;
using System.Security.Claims;
using System.Text;
using Cairn.Auth;
using Microsoft.AspNetCore.Identity;

namespace Cairn.Server.Auth;

/// <summary>
/// Checks the credentials of a request: HTTP Basic (what MLflow clients send for MLFLOW_TRACKING_USERNAME and
/// MLFLOW_TRACKING_PASSWORD) against the user's salted password hash, or a bearer token (MLFLOW_TRACKING_TOKEN) against the
/// stored token hashes. Verified credentials are cached briefly (<see cref="CredentialCache"/>); failures are counted per
/// user name and client address (<see cref="LoginRateLimiter"/>).
/// </summary>
internal sealed class CairnAuthenticator(IUserStore users, CairnPasswords passwords, CredentialCache cache, LoginRateLimiter limiter)
{
    /// <summary>Longer bearer tokens are refused without a lookup (Cairn's are 49 characters).</summary>
    private const int MaxTokenLength = 512;

    public abstract record Outcome;

    public sealed record Authenticated(ClaimsPrincipal Principal) : Outcome;

    public sealed record Refused(string Message) : Outcome;

    public sealed record Limited(TimeSpan RetryAfter) : Outcome;

    /// <summary>Checks an Authorization header value (not empty) sent from <paramref name="address"/>.</summary>
    public async Task<Outcome> AuthenticateAsync(string authorization, IPAddress? address, CancellationToken cancellationToken)
    {
        var space = authorization.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space < 0 ? authorization : authorization[..space];
        var credentials = space < 0 ? "" : authorization[(space + 1)..].Trim();
        var client = address?.ToString();
        if (scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            return await BasicAsync(credentials, client, cancellationToken).ConfigureAwait(false);
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            return await BearerAsync(credentials, client, cancellationToken).ConfigureAwait(false);
        return new Refused($"Unsupported authorization scheme '{Truncate(scheme)}': use Basic (user name and password) or Bearer (an access token).");
    }

    private async Task<Outcome> BasicAsync(string encoded, string? client, CancellationToken cancellationToken)
    {
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            return new Refused("Malformed Basic credentials: expected base64 of 'username:password'.");
        }
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0) return new Refused("Malformed Basic credentials: expected base64 of 'username:password'.");
        var username = decoded[..colon];
        var password = decoded[(colon + 1)..];

        if (limiter.RetryAfter(username, client) is { } wait) return new Limited(wait);
        var key = cache.KeyOf("basic", decoded);
        if (cache.Get(key) is { } cached) return new Authenticated(Principal(cached));

        var generation = cache.Generation;
        (User User, string PasswordHash)? found = null;
        try
        {
            UserValidator.ValidateUsername(username);
            if (password.Length <= UserValidator.MaxPasswordLength)
                found = await users.FindCredentialsAsync(username, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidParameterValueException)
        {
            // Not a possible user name: a failed login like any other.
        }
        // An unknown user costs the same hash as a known one, so timing does not tell which names exist.
        if (!passwords.Verify(found?.PasswordHash, password) || found is not { } hit)
        {
            limiter.RecordFailure(username, client);
            return new Refused("Invalid username or password.");
        }
        var identity = new CredentialCache.Identity(hit.User.Id, hit.User.Username, hit.User.IsAdmin);
        cache.Add(key, identity, generation);
        return new Authenticated(Principal(identity));
    }

    private async Task<Outcome> BearerAsync(string token, string? client, CancellationToken cancellationToken)
    {
        if (limiter.RetryAfter(null, client) is { } wait) return new Limited(wait);
        if (token.Length is 0 or > MaxTokenLength)
        {
            limiter.RecordFailure(null, client);
            return new Refused("Invalid access token.");
        }
        var key = cache.KeyOf("bearer", token);
        if (cache.Get(key) is { } cached) return new Authenticated(Principal(cached));

        var generation = cache.Generation;
        if (await users.UseTokenAsync(AccessTokens.Hash(token), cancellationToken).ConfigureAwait(false) is not { } found)
        {
            limiter.RecordFailure(null, client);
            return new Refused("Invalid or revoked access token.");
        }
        var identity = new CredentialCache.Identity(found.User.Id, found.User.Username, found.User.IsAdmin);
        cache.Add(key, identity, generation);
        return new Authenticated(Principal(identity));
    }

    private static ClaimsPrincipal Principal(CredentialCache.Identity identity)
    {
        var claims = new List<Claim>(3)
        {
            new(ClaimTypes.Name, identity.Username),
            new(CairnClaims.UserIdType, identity.UserId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        };
        if (identity.IsAdmin) claims.Add(new Claim(CairnClaims.AdminType, "true"));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, CairnClaims.Scheme));
    }

    private static string Truncate(string text) => text.Length <= 20 ? text : text[..20] + "...";
}

/// <summary>Password hashing: ASP.NET Core Identity's salted PBKDF2 (<see cref="PasswordHasher{TUser}"/>).</summary>
internal sealed class CairnPasswords
{
    private readonly PasswordHasher<User> _hasher = new();
    private readonly string _decoy;

    public CairnPasswords() => _decoy = _hasher.HashPassword(Anyone, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)));

    private static readonly User Anyone = new(0, "", false, 0);

    /// <summary>Hashes a password that satisfies <see cref="UserValidator.ValidatePassword"/>.</summary>
    public string Hash(string password)
    {
        UserValidator.ValidatePassword(password);
        return _hasher.HashPassword(Anyone, password);
    }

    /// <summary>Whether <paramref name="password"/> matches <paramref name="hash"/>; a null hash is checked against a decoy and fails.</summary>
    public bool Verify(string? hash, string password)
    {
        var result = _hasher.VerifyHashedPassword(Anyone, hash ?? _decoy, password);
        return hash is not null && result != PasswordVerificationResult.Failed;
    }
}
