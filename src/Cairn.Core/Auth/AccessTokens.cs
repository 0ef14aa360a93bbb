using System.Security.Cryptography;
using System.Text;

namespace Cairn.Auth;

/// <summary>
/// Access token secrets: <c>cairn_</c> and 32 random bytes in base64url, shown once to their owner; the store keeps only
/// their SHA-256 (a random 256-bit secret needs no slow hash: nothing can be guessed from it).
/// </summary>
public static class AccessTokens
{
    public const string Prefix = "cairn_";

    /// <summary>A new random token.</summary>
    public static string NewSecret() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>The hash the store keeps: lowercase hex SHA-256 of the token's UTF-8 bytes.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A new token id (not a secret: it names the token in lists and revocations).</summary>
    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
