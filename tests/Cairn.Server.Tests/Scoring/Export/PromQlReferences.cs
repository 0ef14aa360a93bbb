using System.Text.RegularExpressions;

namespace Cairn.Tests.Scoring.Export;

/// <summary>
/// What a PromQL expression (or a Grafana <c>label_values(metric{...}, label)</c> query) reads: each metric name with the labels
/// its matchers name, plus the labels of its <c>by (...)</c> groupings and the label <c>label_values</c> lists. Enough PromQL
/// for dashboard queries: selectors, functions, aggregations with by/without, binary operators, ranges and numbers.
/// </summary>
public sealed partial record PromQlReferences(IReadOnlyList<(string Metric, IReadOnlySet<string> Labels)> Selectors, IReadOnlySet<string> Grouping)
{
    private static readonly HashSet<string> s_keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless",
    };

    public static PromQlReferences Parse(string expression)
    {
        var tokens = Tokens().Matches(expression).Select(m => m.Value).Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        var selectors = new List<(string, IReadOnlySet<string>)>();
        var grouping = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.StartsWith('[')) continue; // a range or subquery: [5m], [$__rate_interval]
            if (!IsIdentifier(token)) continue;
            var next = i + 1 < tokens.Count ? tokens[i + 1] : "";
            if (token is "by" or "without" or "on" or "ignoring" or "group_left" or "group_right")
            {
                if (next != "(") continue;
                for (i += 2; i < tokens.Count && tokens[i] != ")"; i++)
                    if (IsIdentifier(tokens[i])) grouping.Add(tokens[i]);
                continue;
            }
            if (s_keywords.Contains(token)) continue;
            if (next == "(" && token != "label_values") continue; // a function or aggregation: rate(...), sum(...)
            if (next is "by" or "without") continue; // an aggregation grouped before its operand: sum by (...) (...)
            if (token == "label_values")
            {
                // label_values(metric{matchers}, label): the metric must carry the label.
                var (metric, labels, end) = Selector(tokens, i + 2);
                if (end < tokens.Count && tokens[end] == "," && end + 1 < tokens.Count) labels.Add(tokens[end + 1]);
                selectors.Add((metric, labels));
                i = end + 1;
                continue;
            }
            var (name, matchers, after) = Selector(tokens, i);
            selectors.Add((name, matchers));
            i = after - 1;
        }
        if (selectors.Count == 0) throw new FormatException($"No metric in PromQL '{expression}'.");
        return new PromQlReferences(selectors, grouping);
    }

    /// <summary>The metric at <paramref name="start"/> and the labels of its <c>{...}</c> matchers; returns the index after it.</summary>
    private static (string Metric, HashSet<string> Labels, int End) Selector(List<string> tokens, int start)
    {
        var metric = tokens[start];
        if (!IsIdentifier(metric)) throw new FormatException($"Expected a metric name, found '{metric}'.");
        var labels = new HashSet<string>(StringComparer.Ordinal);
        var i = start + 1;
        if (i < tokens.Count && tokens[i] == "{")
        {
            for (i++; i < tokens.Count && tokens[i] != "}"; i++)
            {
                // label op "value" [,]
                if (IsIdentifier(tokens[i])) labels.Add(tokens[i]);
                else if (tokens[i] is not ("=" or "!=" or "=~" or "!~" or ",") && !tokens[i].StartsWith('"'))
                    throw new FormatException($"Unexpected '{tokens[i]}' in the matchers of {metric}.");
            }
            i++;
        }
        return (metric, labels, i);
    }

    private static bool IsIdentifier(string token) => Identifier().IsMatch(token);

    [GeneratedRegex("""\[[^\]]*\]|"(?:[^"\\]|\\.)*"|=~|!~|!=|==|>=|<=|[a-zA-Z_:][a-zA-Z0-9_:]*|\d+(?:\.\d+)?(?:e[+-]?\d+)?|[(){}\[\],=<>+\-*/^%]|\s+""")]
    private static partial Regex Tokens();

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex Identifier();
}

/// <summary>A Prometheus text exposition: for each metric name, the label sets of its series.</summary>
public sealed partial class PrometheusScrape
{
    private readonly Dictionary<string, List<HashSet<string>>> _series = new(StringComparer.Ordinal);

    public PrometheusScrape(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var match = Sample().Match(line);
            if (!match.Success) throw new FormatException($"Not an exposition sample: '{line}'.");
            var labels = LabelName().Matches(match.Groups["labels"].Value).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            var name = match.Groups["name"].Value;
            if (!_series.TryGetValue(name, out var list)) _series[name] = list = [];
            list.Add(labels);
        }
    }

    public IEnumerable<string> Names => _series.Keys;

    /// <summary>Merges another scrape's series in (a dashboard spans the tracking server and cairn serve).</summary>
    public PrometheusScrape With(PrometheusScrape other)
    {
        foreach (var (name, sets) in other._series)
        {
            if (!_series.TryGetValue(name, out var list)) _series[name] = list = [];
            list.AddRange(sets);
        }
        return this;
    }

    /// <summary>
    /// Every problem of <paramref name="expression"/> against this scrape: a metric with no series, or no series of a metric
    /// carrying every label the expression filters or groups it by (<c>le</c> only on <c>_bucket</c> series). Empty when it fits.
    /// </summary>
    public IReadOnlyList<string> Check(string expression)
    {
        var references = PromQlReferences.Parse(expression);
        var problems = new List<string>();
        foreach (var (metric, labels) in references.Selectors)
        {
            if (!_series.TryGetValue(metric, out var series))
            {
                problems.Add($"'{metric}' is not exported (in: {expression})");
                continue;
            }
            var wanted = labels.Concat(references.Grouping).ToHashSet(StringComparer.Ordinal);
            if (!series.Any(wanted.IsSubsetOf))
                problems.Add($"no series of '{metric}' has all of [{string.Join(", ", wanted.Order(StringComparer.Ordinal))}] (in: {expression})");
        }
        return problems;
    }

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>.*)\})?\s+\S+(?:\s+\d+)?$""")]
    private static partial Regex Sample();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""(?:[^""\\]|\\.)*""")]
    private static partial Regex LabelName();
}
