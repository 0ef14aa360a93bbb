using System.Text;

namespace Cairn;

/// <summary>
/// The one place a store URI or connection string is made fit to print: every log line, start-up line and error
/// message that names a backend store, tracking server or artifact destination renders it through
/// <see cref="StoreUri"/>, so a password never reaches a terminal, a log file or an HTTP error body.
/// </summary>
public static class SecretRedaction
{
    /// <summary>What a secret is replaced with.</summary>
    public const string Mask = "***";

    /// <summary>
    /// <paramref name="value"/> with its secrets masked: the password of a URI's user information
    /// (<c>postgresql://user:***@host/db</c>, also <c>http://</c> and any other scheme), secret query parameters
    /// (<c>?password=***</c>), and the secret values of a key=value connection string
    /// (<c>Host=db;Username=u;Password=***</c>, quoted values included). Anything else is returned unchanged.
    /// </summary>
    public static string StoreUri(string? value)
    {
        if (string.IsNullOrEmpty(value)) return value ?? "";
        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0 && IsScheme(value.AsSpan(0, scheme))) return RedactUri(value, scheme + 3);
        return value.Contains('=', StringComparison.Ordinal) ? RedactConnectionString(value) : value;
    }

    /// <summary>Whether a connection-string key or query parameter holds a secret.</summary>
    private static bool IsSecretKey(ReadOnlySpan<char> key)
    {
        var k = key.Trim();
        return k.Contains("password", StringComparison.OrdinalIgnoreCase) || k.Equals("pwd", StringComparison.OrdinalIgnoreCase)
            || k.Contains("secret", StringComparison.OrdinalIgnoreCase) || k.Contains("token", StringComparison.OrdinalIgnoreCase)
            || k.Equals("sig", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsScheme(ReadOnlySpan<char> scheme)
    {
        if (!char.IsAsciiLetter(scheme[0])) return false;
        foreach (var c in scheme)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.')) return false;
        return true;
    }

    private static string RedactUri(string uri, int authorityStart)
    {
        var builder = new StringBuilder(uri.Length);
        // The user information ends at the last '@' before the query: a password may hold an unescaped '@' or '/'.
        // (A path holding '@' is masked too; printing too little is the safe side.)
        var queryStart = uri.IndexOfAny(['?', '#'], authorityStart);
        var beforeQuery = queryStart < 0 ? uri.Length : queryStart;
        var at = uri.LastIndexOf('@', beforeQuery - 1, beforeQuery - authorityStart);
        var colon = at < 0 ? -1 : uri.IndexOf(':', authorityStart, at - authorityStart);
        int authorityEnd;
        if (colon >= 0)
        {
            authorityEnd = uri.IndexOfAny(['/', '?', '#'], at);
            if (authorityEnd < 0) authorityEnd = uri.Length;
            builder.Append(uri, 0, colon + 1).Append(Mask).Append(uri, at, authorityEnd - at);
        }
        else
        {
            authorityEnd = uri.IndexOfAny(['/', '?', '#'], authorityStart);
            if (authorityEnd < 0) authorityEnd = uri.Length;
            builder.Append(uri, 0, authorityEnd);
        }

        var query = uri.IndexOf('?', authorityEnd);
        if (query < 0) return builder.Append(uri, authorityEnd, uri.Length - authorityEnd).ToString();
        builder.Append(uri, authorityEnd, query + 1 - authorityEnd);
        var fragment = uri.IndexOf('#', query);
        var end = fragment < 0 ? uri.Length : fragment;
        var first = true;
        foreach (var pair in uri[(query + 1)..end].Split('&'))
        {
            if (!first) builder.Append('&');
            first = false;
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            builder.Append(eq > 0 && IsSecretKey(Uri.UnescapeDataString(pair[..eq])) ? pair[..(eq + 1)] + Mask : pair);
        }
        return builder.Append(uri, end, uri.Length - end).ToString();
    }

    /// <summary>Masks secret values in <c>key=value;key='quoted;value'</c> text, keeping everything else as written.</summary>
    private static string RedactConnectionString(string text)
    {
        var builder = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var eq = text.IndexOf('=', i);
            var semicolon = text.IndexOf(';', i);
            if (eq < 0 || (semicolon >= 0 && semicolon < eq))
            {
                var stop = semicolon < 0 ? text.Length : semicolon + 1;
                builder.Append(text, i, stop - i);
                i = stop;
                continue;
            }
            var key = text.AsSpan(i, eq - i);
            var j = eq + 1;
            while (j < text.Length && char.IsWhiteSpace(text[j])) j++;
            if (j < text.Length && text[j] is '\'' or '"')
            {
                var quote = text[j++];
                while (j < text.Length)
                {
                    if (text[j] == quote)
                    {
                        if (j + 1 < text.Length && text[j + 1] == quote) { j += 2; continue; }
                        j++;
                        break;
                    }
                    j++;
                }
            }
            var end = text.IndexOf(';', j);
            if (end < 0) end = text.Length;
            builder.Append(key).Append('=');
            if (IsSecretKey(key)) builder.Append(Mask);
            else builder.Append(text, eq + 1, end - eq - 1);
            if (end < text.Length) builder.Append(';');
            i = end + 1;
        }
        return builder.ToString();
    }
}
