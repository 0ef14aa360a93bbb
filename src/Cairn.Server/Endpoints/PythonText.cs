using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Cairn.Server.Endpoints;

/// <summary>
/// JSON values written the way Python's <c>str()</c> and <c>repr()</c> print the objects <c>json.loads</c> makes of
/// them, for error messages MLflow's clients match on (MLflow's server formats the value it received with an f-string).
/// </summary>
internal static class PythonText
{
    /// <summary>What <c>f"{value}"</c> prints: a string bare, anything else as its repr.</summary>
    public static string Str(JsonElement value) =>
        value.ValueKind == JsonValueKind.String ? Cut(value.GetString() ?? "") : Repr(value);

    private static string Cut(string text) => text.Length <= MaxLength ? text : string.Concat(text.AsSpan(0, MaxLength), "...");

    public static string Repr(JsonElement value)
    {
        var text = new StringBuilder();
        AppendRepr(text, value, depth: 0);
        return text.ToString();
    }

    /// <summary>The name of the Python type <c>json.loads</c> gives the value.</summary>
    public static string TypeName(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "dict",
        JsonValueKind.Array => "list",
        JsonValueKind.String => "str",
        JsonValueKind.Number => IsInteger(value.GetRawText()) ? "int" : "float",
        JsonValueKind.True or JsonValueKind.False => "bool",
        _ => "NoneType",
    };

    // Deeper values are elided: the message names the field, and a hostile body must not make a huge one.
    private const int MaxDepth = 8;
    private const int MaxLength = 1000;

    private static void AppendRepr(StringBuilder text, JsonElement value, int depth)
    {
        if (text.Length > MaxLength) return;
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                if (depth >= MaxDepth) { text.Append("{...}"); return; }
                text.Append('{');
                var first = true;
                foreach (var property in value.EnumerateObject())
                {
                    if (!first) text.Append(", ");
                    first = false;
                    AppendQuoted(text, property.Name);
                    text.Append(": ");
                    AppendRepr(text, property.Value, depth + 1);
                    if (text.Length > MaxLength) { text.Append("...}"); return; }
                }
                text.Append('}');
                return;
            case JsonValueKind.Array:
                if (depth >= MaxDepth) { text.Append("[...]"); return; }
                text.Append('[');
                var i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (i++ > 0) text.Append(", ");
                    AppendRepr(text, item, depth + 1);
                    if (text.Length > MaxLength) { text.Append("...]"); return; }
                }
                text.Append(']');
                return;
            case JsonValueKind.String:
                AppendQuoted(text, value.GetString() ?? "");
                return;
            case JsonValueKind.Number:
                text.Append(Number(value.GetRawText()));
                return;
            case JsonValueKind.True:
                text.Append("True");
                return;
            case JsonValueKind.False:
                text.Append("False");
                return;
            default:
                text.Append("None");
                return;
        }
    }

    private static bool IsInteger(string raw) => raw.AsSpan().IndexOfAny(".eE") < 0;

    /// <summary>Python's repr of the number: integers as written, floats shortest round-trip with a ".0" when integral.</summary>
    private static string Number(string raw)
    {
        if (IsInteger(raw)) return raw;
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return raw;
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        var abs = Math.Abs(d);
        if (d == Math.Floor(d) && abs < 1e16) return d.ToString("F1", CultureInfo.InvariantCulture);
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        // .NET writes 1E-05 where Python writes 1e-05.
        return r.Replace("E", "e", StringComparison.Ordinal);
    }

    private static void AppendQuoted(StringBuilder text, string value)
    {
        var quote = value.Contains('\'', StringComparison.Ordinal) && !value.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        text.Append(quote);
        foreach (var c in value)
        {
            if (text.Length > MaxLength) { text.Append("..."); break; }
            switch (c)
            {
                case '\\': text.Append(@"\\"); break;
                case '\n': text.Append(@"\n"); break;
                case '\r': text.Append(@"\r"); break;
                case '\t': text.Append(@"\t"); break;
                default:
                    if (c == quote) text.Append('\\');
                    if (char.IsControl(c)) text.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    else text.Append(c);
                    break;
            }
        }
        text.Append(quote);
    }
}
