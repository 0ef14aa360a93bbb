using System.Globalization;

namespace Cairn.Monitoring.Alerts;

/// <summary>A parsed condition and the consecutive windows it must hold for (<c>... for 2 windows</c>), or null when it says none.</summary>
internal sealed record ParsedCondition(AlertCondition Condition, int? ForWindows);

/// <summary>
/// Parses alert conditions: comparisons of a window's signals with numbers, joined by <c>and</c>/<c>or</c> with parentheses,
/// optionally ending in <c>for N windows</c>. A hand-written tokenizer and recursive descent, bounded in length, terms and
/// nesting; every error names the rule and the 1-based position.
/// <code>
/// drift.share > 0.3
/// psi(feature=tenure) > 0.2
/// accuracy &lt; 0.8 for 2 windows
/// prediction_log.drops > 0 or (drift.dataset == true and rows >= 1000)
/// </code>
/// </summary>
internal sealed class AlertConditionParser
{
    /// <summary>The longest condition text.</summary>
    public const int MaxLength = 2000;

    /// <summary>The most comparisons in one condition.</summary>
    public const int MaxComparisons = 32;

    /// <summary>The deepest parenthesis nesting.</summary>
    public const int MaxDepth = 8;

    /// <summary>The most windows <c>for N windows</c> may ask for.</summary>
    public const int MaxForWindows = 1000;

    /// <summary>Performance metrics by the metrics module's names.</summary>
    public static readonly string[] PerformanceMetrics = ["accuracy", "precision", "recall", "f1", "auc", "rmse", "mae", "r2"];

    private static readonly Dictionary<string, DriftStat> Stats = new(StringComparer.Ordinal)
    {
        ["psi"] = DriftStat.Psi,
        ["js"] = DriftStat.Js,
        ["wasserstein"] = DriftStat.Wasserstein,
        ["wasserstein_normalized"] = DriftStat.WassersteinNormalized,
        ["ks.statistic"] = DriftStat.KsStatistic,
        ["ks.p_value"] = DriftStat.KsPValue,
        ["chi2.statistic"] = DriftStat.Chi2Statistic,
        ["chi2.p_value"] = DriftStat.Chi2PValue,
        ["drift.score"] = DriftStat.Score,
        ["drifted"] = DriftStat.Drifted,
    };

    private enum TokenKind { Identifier, Number, String, Operator, LeftParen, RightParen, Assign, End }

    private readonly record struct Token(TokenKind Kind, string Text, int Position);

    private readonly string _rule;
    private readonly string _text;
    private readonly List<Token> _tokens;
    private int _next;
    private int _comparisons;

    private AlertConditionParser(string rule, string text)
    {
        _rule = rule;
        _text = text;
        _tokens = Tokenize();
    }

    /// <summary>The signal names a condition may use, for error messages and docs.</summary>
    public static string SignalList =>
        "drift.share, drift.dataset, rows, labeled_rows, prediction_log.drops, " + string.Join(", ", PerformanceMetrics) +
        ", training.<metric>, <stat>(feature=NAME), prediction.<stat> with <stat> one of " + string.Join(", ", Stats.Keys);

    /// <summary>Parses <paramref name="text"/>; errors start with <paramref name="rule"/> (e.g. <c>alert rule 'drift'</c>).</summary>
    public static ParsedCondition Parse(string rule, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text)) throw new InvalidParameterValueException($"{rule}: 'condition' is empty.");
        if (text.Length > MaxLength)
            throw new InvalidParameterValueException($"{rule}: 'condition' is {text.Length} characters long; at most {MaxLength} are allowed.");
        var parser = new AlertConditionParser(rule, text);
        var condition = parser.ParseOr(0);
        int? forWindows = null;
        if (parser.Peek is { Kind: TokenKind.Identifier, Text: "for" })
        {
            parser._next++;
            var n = parser.Take();
            if (n.Kind != TokenKind.Number || !int.TryParse(n.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1 || count > MaxForWindows)
                throw parser.Error(n, $"'for' needs a whole number of windows from 1 to {MaxForWindows}");
            var unit = parser.Take();
            if (unit is not { Kind: TokenKind.Identifier, Text: "windows" or "window" })
                throw parser.Error(unit, "expected 'windows' after the count of 'for'");
            forWindows = count;
        }
        if (parser.Peek.Kind != TokenKind.End)
            throw parser.Error(parser.Peek, $"unexpected '{parser.Peek.Text}' (expected 'and', 'or', 'for N windows' or the end)");
        return new ParsedCondition(condition, forWindows);
    }

    private Token Peek => _tokens[_next];

    private Token Take() => _tokens[_next < _tokens.Count - 1 ? _next++ : _next];

    private InvalidParameterValueException Error(Token at, string problem) => Error(at.Position, problem);

    private InvalidParameterValueException Error(int position, string problem) =>
        new($"{_rule}: condition at position {position + 1}: {problem}.");

    private AlertCondition ParseOr(int depth)
    {
        var left = ParseAnd(depth);
        while (Peek is { Kind: TokenKind.Identifier, Text: "or" })
        {
            _next++;
            left = new OrCondition(left, ParseAnd(depth));
        }
        return left;
    }

    private AlertCondition ParseAnd(int depth)
    {
        var left = ParsePrimary(depth);
        while (Peek is { Kind: TokenKind.Identifier, Text: "and" })
        {
            _next++;
            left = new AndCondition(left, ParsePrimary(depth));
        }
        return left;
    }

    private AlertCondition ParsePrimary(int depth)
    {
        var token = Peek;
        if (token.Kind == TokenKind.LeftParen)
        {
            if (depth >= MaxDepth) throw Error(token, $"parentheses nest deeper than {MaxDepth}");
            _next++;
            var inner = ParseOr(depth + 1);
            var close = Take();
            if (close.Kind != TokenKind.RightParen) throw Error(close, "expected ')'");
            return inner;
        }
        return ParseComparison();
    }

    private Comparison ParseComparison()
    {
        var start = Peek;
        if (++_comparisons > MaxComparisons) throw Error(start, $"more than {MaxComparisons} comparisons");
        var signal = ParseSignal();
        var op = Take();
        if (op.Kind != TokenKind.Operator)
            throw Error(op, op.Kind == TokenKind.End
                ? $"'{signal.Text}' needs a comparison (>, >=, <, <=, ==, !=) and a number"
                : $"expected a comparison operator (>, >=, <, <=, ==, !=) after '{signal.Text}', not '{op.Text}'");
        var value = Take();
        double threshold;
        if (value is { Kind: TokenKind.Identifier, Text: "true" or "false" }) threshold = value.Text == "true" ? 1 : 0;
        else if (value.Kind != TokenKind.Number || !double.TryParse(value.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out threshold) || !double.IsFinite(threshold))
            throw Error(value, value.Kind == TokenKind.End ? $"expected a number after '{op.Text}'" : $"expected a number after '{op.Text}', not '{value.Text}'");
        return new Comparison(signal, op.Text switch
        {
            ">" => CompareOp.Greater,
            ">=" => CompareOp.GreaterOrEqual,
            "<" => CompareOp.Less,
            "<=" => CompareOp.LessOrEqual,
            "==" => CompareOp.Equal,
            _ => CompareOp.NotEqual,
        }, threshold);
    }

    private AlertSignal ParseSignal()
    {
        var name = Take();
        if (name.Kind != TokenKind.Identifier)
            throw Error(name, name.Kind == TokenKind.End ? "expected a signal (e.g. drift.share, psi(feature=NAME), accuracy)" : $"expected a signal, not '{name.Text}'");
        var id = name.Text;
        if (Peek.Kind == TokenKind.LeftParen)
        {
            if (!Stats.TryGetValue(id, out var featureStat))
                throw Error(name, $"'{id}' takes no feature; per-feature statistics are {string.Join(", ", Stats.Keys)}");
            _next++;
            var key = Take();
            if (key is not { Kind: TokenKind.Identifier, Text: "feature" }) throw Error(key, $"expected 'feature=NAME' inside {id}(...)");
            var assign = Take();
            if (assign.Kind != TokenKind.Assign) throw Error(assign, "expected '=' after 'feature'");
            var feature = Take();
            if (feature.Kind is not (TokenKind.Identifier or TokenKind.String) || feature.Text.Length == 0)
                throw Error(feature, "expected a feature name (a word, or quoted)");
            var close = Take();
            if (close.Kind != TokenKind.RightParen) throw Error(close, "expected ')' after the feature name");
            return new AlertSignal(SignalKind.Feature, $"{id}(feature={feature.Text})", featureStat, Feature: feature.Text);
        }
        switch (id)
        {
            case "drift.share": return new AlertSignal(SignalKind.DriftShare, id);
            case "drift.dataset": return new AlertSignal(SignalKind.DatasetDrift, id);
            case "rows": return new AlertSignal(SignalKind.Rows, id);
            case "labeled_rows": return new AlertSignal(SignalKind.LabeledRows, id);
            case "prediction_log.drops": return new AlertSignal(SignalKind.PredictionLogDrops, id);
        }
        if (PerformanceMetrics.Contains(id, StringComparer.Ordinal)) return new AlertSignal(SignalKind.Performance, id, Metric: id);
        if (id.StartsWith("training.", StringComparison.Ordinal) && PerformanceMetrics.Contains(id["training.".Length..], StringComparer.Ordinal))
            return new AlertSignal(SignalKind.TrainingPerformance, id, Metric: id["training.".Length..]);
        if (id.StartsWith("prediction.", StringComparison.Ordinal) && Stats.TryGetValue(id["prediction.".Length..], out var stat))
            return new AlertSignal(SignalKind.Prediction, id, stat);
        if (Stats.ContainsKey(id)) throw Error(name, $"'{id}' needs a feature: {id}(feature=NAME)");
        throw Error(name, $"unknown signal '{id}' (known: {SignalList})");
    }

    private List<Token> Tokenize()
    {
        var tokens = new List<Token>();
        var s = _text;
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            int start = i;
            if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '_' or '.' or '-')) i++;
                tokens.Add(new Token(TokenKind.Identifier, s[start..i], start));
            }
            else if (char.IsAsciiDigit(c) || (c is '-' or '+' or '.' && i + 1 < s.Length && (char.IsAsciiDigit(s[i + 1]) || s[i + 1] == '.')))
            {
                i++;
                while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.' || s[i] is 'e' or 'E'
                    || (s[i] is '+' or '-' && s[i - 1] is 'e' or 'E'))) i++;
                tokens.Add(new Token(TokenKind.Number, s[start..i], start));
            }
            else if (c is '\'' or '"')
            {
                int close = s.IndexOf(c, i + 1);
                if (close < 0) throw Error(start, "a quoted name is not closed");
                tokens.Add(new Token(TokenKind.String, s[(i + 1)..close], start));
                i = close + 1;
            }
            else if (c is '>' or '<' or '!' or '=')
            {
                bool twoChar = i + 1 < s.Length && s[i + 1] == '=';
                if (c == '!' && !twoChar) throw Error(start, "'!' must be followed by '=' (not equal is '!=')");
                i += twoChar ? 2 : 1;
                var op = s[start..i];
                tokens.Add(op == "=" ? new Token(TokenKind.Assign, op, start) : new Token(TokenKind.Operator, op, start));
            }
            else if (c == '(') { tokens.Add(new Token(TokenKind.LeftParen, "(", start)); i++; }
            else if (c == ')') { tokens.Add(new Token(TokenKind.RightParen, ")", start)); i++; }
            else throw Error(start, $"unexpected character '{c}'");
        }
        tokens.Add(new Token(TokenKind.End, "end of the condition", s.Length));
        return tokens;
    }
}
