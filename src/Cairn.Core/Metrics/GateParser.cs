using System.Globalization;

namespace Cairn.Metrics;

/// <summary>
/// The tokenizer and parser of <see cref="Gate"/>: words (runs of characters other than blanks and the operator
/// characters &lt; &gt; = !) and operators; a gate is one or more words (the metric, which may hold inner blanks, as MLflow's
/// metric keys may), one operator, and one word (the number or the reference name).
/// </summary>
internal static class GateParser
{
    /// <summary>At most this many characters in a gate: a gate is one comparison, not a document.</summary>
    public const int MaxLength = 1000;

    private const string Prefix = "metrics.";

    private enum Kind { Word, Operator }

    private readonly record struct Token(Kind Kind, string Text, int Start, int End);

    public static Gate Parse(string? text, GateSyntax syntax)
    {
        ArgumentNullException.ThrowIfNull(syntax);
        var source = text ?? "";
        if (source.Length > MaxLength) throw Bad(syntax, source[..40] + "...", $"a gate has at most {MaxLength} characters");
        var tokens = Tokenize(source, syntax);
        var trimmed = source.Trim();
        if (tokens.Count == 0) throw Bad(syntax, trimmed, "it is empty");

        var op = tokens.FindIndex(t => t.Kind == Kind.Operator);
        if (op < 0) throw Bad(syntax, trimmed, "it has no comparison operator");
        if (op == 0) throw Bad(syntax, trimmed, $"no metric before '{tokens[0].Text}'");
        var key = source[tokens[0].Start..tokens[op - 1].End];
        if (op + 1 >= tokens.Count) throw Bad(syntax, trimmed, $"nothing after '{tokens[op].Text}'; expected {Value(syntax)}");
        var value = tokens[op + 1];
        if (value.Kind != Kind.Word) throw Bad(syntax, trimmed, $"'{tokens[op].Text}' is followed by '{value.Text}'; expected {Value(syntax)}");
        if (op + 2 < tokens.Count) throw Bad(syntax, trimmed, $"unexpected '{source[tokens[op + 2].Start..].Trim()}' after '{value.Text}'");

        var metric = key.StartsWith(Prefix, StringComparison.Ordinal) ? key[Prefix.Length..] : key;
        if (syntax.RequireMetricsPrefix && metric.Length == key.Length)
            throw Bad(syntax, trimmed, $"the metric '{key}' must be written '{Prefix}{key}'");
        if (metric.Length == 0) throw Bad(syntax, trimmed, $"no metric name after '{Prefix}'");
        var badChar = metric.FirstOrDefault(c => !(char.IsLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or ':' or ' '));
        if (badChar != default)
            throw Bad(syntax, trimmed, $"the metric '{metric}' holds '{badChar}'; a metric name holds letters, digits, blanks and _ - . / : only");

        if (double.TryParse(value.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            if (double.IsNaN(number)) throw Bad(syntax, trimmed, "the threshold is NaN, and a comparison with NaN always fails");
            return new Gate(trimmed, metric, tokens[op].Text, number, null);
        }
        if (syntax.Reference is { } reference)
        {
            if (value.Text != reference) throw Bad(syntax, trimmed, $"'{value.Text}' is neither a number nor the alias being promoted ('{reference}')");
            return new Gate(trimmed, metric, tokens[op].Text, null, reference);
        }
        throw Bad(syntax, trimmed, $"'{value.Text}' is not a number");
    }

    private static List<Token> Tokenize(string source, GateSyntax syntax)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < source.Length)
        {
            var c = source[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            if (c is '<' or '>' or '=' or '!')
            {
                var two = i + 1 < source.Length && source[i + 1] == '=';
                var text = two ? source.Substring(i, 2) : source.Substring(i, 1);
                if (text is "=" or "!")
                    throw Bad(syntax, source.Trim(), $"'{text}' at position {i + 1} is not an operator; expected one of {string.Join(", ", Gate.Operators)}");
                tokens.Add(new Token(Kind.Operator, text, i, i + text.Length));
                i += text.Length;
                continue;
            }
            var start = i;
            while (i < source.Length && !char.IsWhiteSpace(source[i]) && source[i] is not ('<' or '>' or '=' or '!')) i++;
            tokens.Add(new Token(Kind.Word, source[start..i], start, i));
        }
        return tokens;
    }

    private static string Value(GateSyntax syntax) => syntax.Reference is { } r ? $"a number or the alias '{r}'" : "a number";

    private static InvalidParameterValueException Bad(GateSyntax syntax, string text, string problem)
    {
        var (form, example) = syntax.Reference is { } r
            ? ($"{(syntax.RequireMetricsPrefix ? Prefix : $"[{Prefix}]")}KEY OP VALUE' with VALUE a number or the alias '{r}'", $"{Prefix}auc >= {r}")
            : ($"{(syntax.RequireMetricsPrefix ? Prefix : $"[{Prefix}]")}KEY OP NUMBER'", "accuracy >= 0.85");
        return new InvalidParameterValueException(
            $"Invalid value '{text}' for '{syntax.Field}': {problem}; expected '{form} and OP one of {string.Join(", ", Gate.Operators)}, e.g. \"{example}\".");
    }
}
