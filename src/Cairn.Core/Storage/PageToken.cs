using System.Buffers.Text;
using System.Text;

namespace Cairn.Storage;

/// <summary>
/// An opaque page token: the offset of the next page plus a fingerprint of the query it belongs to,
/// so a token replayed against another query is refused instead of silently skipping rows.
/// </summary>
internal static class PageToken
{
    public static string Encode(long offset, string fingerprint) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{offset}:{Fingerprint(fingerprint)}"));

    /// <summary>
    /// Queries ask for one row more than a page holds: when it came back, drops it and returns the token of
    /// the next page; otherwise this was the last page and the token is null.
    /// </summary>
    public static string? TrimToPage<T>(List<T> rows, int pageSize, long offset, string fingerprint)
    {
        if (rows.Count <= pageSize) return null;
        rows.RemoveAt(rows.Count - 1);
        return Encode(offset + pageSize, fingerprint);
    }

    public static long Decode(string? token, string fingerprint)
    {
        if (string.IsNullOrEmpty(token)) return 0;
        // A token this server issues is a few dozen characters; a longer one is refused before it is decoded.
        if (token.Length > MaxLength) throw Invalid(token);
        string text;
        try
        {
            text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (FormatException)
        {
            throw Invalid(token);
        }
        var colon = text.IndexOf(':');
        if (colon < 0 || !long.TryParse(text.AsSpan(0, colon), out var offset) || offset < 0) throw Invalid(token);
        if (text[(colon + 1)..] != Fingerprint(fingerprint))
            throw new InvalidParameterValueException("Invalid page_token: it belongs to a different query (filter, order_by, experiments or view type changed).");
        return offset;
    }

    /// <summary>The longest token accepted.</summary>
    public const int MaxLength = 200;

    private static InvalidParameterValueException Invalid(string token) =>
        new($"Invalid page_token '{(token.Length <= 60 ? token : token[..60] + "...")}': it is not a token this server issued.");

    private static string Fingerprint(string query)
    {
        // FNV-1a: small, stable across processes (string.GetHashCode is randomized per process).
        var hash = 14695981039346656037UL;
        foreach (var c in query) { hash ^= c; hash *= 1099511628211UL; }
        return hash.ToString("x16");
    }
}
