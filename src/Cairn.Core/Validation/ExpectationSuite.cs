using System.Globalization;
using System.Text.RegularExpressions;
using Cairn.Data;
using Cairn.Monitoring;
using YamlDotNet.RepresentationModel;

namespace Cairn.Validation;

/// <summary>
/// An expectation suite: the rules data must meet, read from YAML (docs/VALIDATION.md has the format). Loading refuses an
/// unknown key, a missing or bad field and an impossible rule with one error naming the file, the expectation (index and
/// kind) and the field.
/// </summary>
/// <param name="Name">The suite's name, or null.</param>
/// <param name="Expectations">The expectations in the file's order.</param>
/// <param name="Source">Where it was read from (a file name), for messages.</param>
public sealed record ExpectationSuite(string? Name, IReadOnlyList<Expectation> Expectations, string Source)
{
    /// <summary>The most expectations one suite holds.</summary>
    public const int MaxExpectations = 10_000;

    /// <summary>The most values an <c>in_set</c> lists.</summary>
    public const int MaxSetValues = 10_000;

    /// <summary>The longest <c>matches_regex</c> pattern.</summary>
    public const int MaxPatternLength = 1_000;

    /// <summary>The largest suite file read.</summary>
    public const long MaxFileBytes = 4 << 20;

    /// <summary>How long one value may take to match a pattern before the validation stops with an error.</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a pattern the non-backtracking engine cannot run may take over one column before the validation stops with an error.</summary>
    public static readonly TimeSpan RegexBudget = TimeSpan.FromSeconds(30);

    private static readonly string[] TopFields = ["name", "expectations"];
    private static readonly string[] Common = ["kind", "severity"];

    private static readonly Dictionary<string, string[]> Fields = new(StringComparer.Ordinal)
    {
        ["column_exists"] = ["column"],
        ["column_type"] = ["column", "type"],
        ["not_null"] = ["column", "max_null_share"],
        ["between"] = ["column", "min", "max", "min_inclusive", "max_inclusive"],
        ["in_set"] = ["column", "values"],
        ["matches_regex"] = ["column", "pattern"],
        ["unique"] = ["column"],
        ["row_count_between"] = ["min", "max"],
        ["mean_between"] = ["column", "min", "max"],
        ["std_between"] = ["column", "min", "max"],
        ["quantile_between"] = ["column", "quantile", "min", "max"],
        ["distribution_close"] = ["column", "reference", "method", "threshold"],
    };

    /// <summary>The kinds of expectation, as suite files name them.</summary>
    public static IReadOnlyCollection<string> Kinds => Fields.Keys;

    /// <summary>
    /// Reads the suite file <paramref name="path"/>; <c>distribution_close</c> references are relative to its folder and may
    /// not leave it.
    /// </summary>
    public static ExpectationSuite Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"{path}: suite file not found.", path);
        if (info.Length > MaxFileBytes)
            throw new InvalidParameterValueException($"{path}: the suite file has {info.Length:N0} bytes; at most {MaxFileBytes:N0} are read.");
        return Parse(File.ReadAllText(path), path, Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Parses suite YAML; <paramref name="folder"/> is where <c>distribution_close</c> references are found.</summary>
    public static ExpectationSuite Parse(string yaml, string source, string folder)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var root = YamlHelper.LoadRoot(yaml, source);
        if (root is not YamlMappingNode top)
            throw new InvalidParameterValueException($"{source}: expected a mapping with an 'expectations' list at the top level.");
        foreach (var key in top.Children.Keys)
            if (!TopFields.Contains(Scalar(key)))
                throw new InvalidParameterValueException($"{source}: unknown top-level field '{Scalar(key)}' (allowed: {string.Join(", ", TopFields)}).");
        string? name = null;
        if (top.Children.TryGetValue(new YamlScalarNode("name"), out var nameNode))
            name = nameNode is YamlScalarNode { Value: { Length: > 0 } n } ? n : throw new InvalidParameterValueException($"{source}: field 'name' must be a non-empty text.");
        if (!top.Children.TryGetValue(new YamlScalarNode("expectations"), out var listNode) || listNode is not YamlSequenceNode list)
            throw new InvalidParameterValueException($"{source}: field 'expectations' is missing or not a list; expected a list of expectations, each with a 'kind'.");
        if (list.Children.Count > MaxExpectations)
            throw new InvalidParameterValueException($"{source}: field 'expectations' has {list.Children.Count} entries; a suite holds at most {MaxExpectations}.");
        var expectations = new List<Expectation>(list.Children.Count);
        for (var i = 0; i < list.Children.Count; i++) expectations.Add(ParseOne(list.Children[i], i, source, folder));
        return new ExpectationSuite(name, expectations, source);
    }

    private static Expectation ParseOne(YamlNode node, int index, string source, string folder)
    {
        if (node is not YamlMappingNode map)
            throw new InvalidParameterValueException($"{source}: expectation {index}: expected a mapping with a 'kind'.");
        if (!map.Children.TryGetValue(new YamlScalarNode("kind"), out var kindNode) || kindNode is not YamlScalarNode { Value: { } kind })
            throw new InvalidParameterValueException($"{source}: expectation {index}: field 'kind' is missing; expected one of {string.Join(", ", Fields.Keys)}.");
        if (!Fields.TryGetValue(kind, out var allowed))
            throw new InvalidParameterValueException($"{source}: expectation {index}: field 'kind' is '{kind}'; expected one of {string.Join(", ", Fields.Keys)}.");
        var fields = new FieldReader(map, $"{source}: expectation {index} ({kind})");
        foreach (var key in map.Children.Keys)
        {
            var k = Scalar(key);
            if (!Common.Contains(k) && !allowed.Contains(k))
                throw fields.Error(k, $"is not a field of {kind} (allowed: {string.Join(", ", Common.Concat(allowed))})");
        }
        var severity = fields.Text("severity") switch
        {
            null or "error" => Severity.Error,
            "warn" => Severity.Warn,
            var other => throw fields.Error("severity", $"is '{other}'; expected error or warn"),
        };
        var column = allowed.Contains("column") ? fields.Text("column") ?? throw fields.Error("column", "is missing; name the column the expectation is about") : null;
        if (column is { Length: 0 }) throw fields.Error("column", "is empty");
        Expectation result = kind switch
        {
            "column_exists" => new ColumnExistsExpectation { Index = index },
            "column_type" => new ColumnTypeExpectation
            {
                Index = index,
                Type = fields.Text("type") switch
                {
                    "numeric" => ColumnType.Numeric,
                    "integer" => ColumnType.Integer,
                    "string" => ColumnType.String,
                    "boolean" => ColumnType.Boolean,
                    null => throw fields.Error("type", "is missing; expected numeric, integer, string or boolean"),
                    var other => throw fields.Error("type", $"is '{other}'; expected numeric, integer, string or boolean"),
                },
            },
            "not_null" => new NotNullExpectation { Index = index, MaxNullShare = fields.Share("max_null_share") ?? 0 },
            "between" => new BetweenExpectation { Index = index, Bounds = fields.Bounds(inclusiveFlags: true) },
            "in_set" => new InSetExpectation { Index = index, Values = fields.Values("values") },
            "matches_regex" => Regex(fields, index),
            "unique" => new UniqueExpectation { Index = index },
            "row_count_between" => new RowCountExpectation { Index = index, Bounds = fields.Bounds(inclusiveFlags: false, whole: true) },
            "mean_between" => new StatisticExpectation { Index = index, Statistic = ColumnStatistic.Mean, Bounds = fields.Bounds(inclusiveFlags: false) },
            "std_between" => new StatisticExpectation { Index = index, Statistic = ColumnStatistic.Std, Bounds = fields.Bounds(inclusiveFlags: false) },
            "quantile_between" => new StatisticExpectation
            {
                Index = index,
                Statistic = ColumnStatistic.Quantile,
                Quantile = fields.Share("quantile") ?? throw fields.Error("quantile", "is missing; give the level, e.g. 0.5 for the median"),
                Bounds = fields.Bounds(inclusiveFlags: false),
            },
            _ => Distribution(fields, index, folder),
        };
        return result with { Column = column, Severity = severity };
    }

    private static MatchesRegexExpectation Regex(FieldReader fields, int index)
    {
        var pattern = fields.Text("pattern") ?? throw fields.Error("pattern", "is missing");
        if (pattern.Length == 0) throw fields.Error("pattern", "is empty");
        if (pattern.Length > MaxPatternLength)
            throw fields.Error("pattern", $"has {pattern.Length} characters; at most {MaxPatternLength} are allowed");
        Regex regex;
        try
        {
            try
            {
                // No backtracking: time linear in the value's length, whatever the pattern.
                regex = new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, RegexTimeout);
            }
            catch (NotSupportedException)
            {
                // Backreferences, lookarounds and atomic groups need the backtracking engine; the timeout bounds it.
                regex = new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
            }
        }
        catch (ArgumentException e)
        {
            throw fields.Error("pattern", $"is not a valid regular expression: {e.Message}");
        }
        return new MatchesRegexExpectation { Index = index, Pattern = pattern, Regex = regex };
    }

    private static DistributionExpectation Distribution(FieldReader fields, int index, string folder)
    {
        var reference = fields.Text("reference") ?? throw fields.Error("reference", "is missing; give the reference data file (.csv or .parquet) relative to the suite's folder");
        if (SafePath.Problem(reference) is { } problem)
            throw fields.Error("reference", $"'{reference}' {problem}; it must be relative to the suite's folder and stay inside it");
        DriftMethod? method = null;
        if (fields.Text("method") is { } m)
        {
            try
            {
                method = DriftOptions.ParseMethod(m, "method");
            }
            catch (InvalidParameterValueException)
            {
                throw fields.Error("method", $"is '{m}'; expected psi, js, ks, wasserstein or chi2");
            }
        }
        var threshold = fields.Number("threshold");
        if (threshold is { } t)
        {
            if (!(t > 0 && double.IsFinite(t))) throw fields.Error("threshold", $"is {ExpectationText.Number(t)}; it must be a finite number greater than 0");
            if (method is { } known && DriftOptions.IsTest(known) && t >= 1)
                throw fields.Error("threshold", $"is {ExpectationText.Number(t)}; a {DriftOptions.NameOf(known)} threshold is a p-value between 0 and 1 (exclusive)");
        }
        return new DistributionExpectation
        {
            Index = index,
            Reference = reference,
            ReferencePath = Path.GetFullPath(Path.Combine(folder, reference)),
            Method = method,
            Threshold = threshold,
        };
    }

    private static string Scalar(YamlNode node) => node is YamlScalarNode { Value: { } v } ? v : node.ToString();

    /// <summary>Reads the fields of one expectation; every error names the expectation and the field.</summary>
    private sealed class FieldReader(YamlMappingNode map, string where)
    {
        public InvalidParameterValueException Error(string field, string rule) => new($"{where}: field '{field}' {rule}.");

        private YamlNode? Node(string field) => map.Children.TryGetValue(new YamlScalarNode(field), out var node) ? node : null;

        public string? Text(string field) => Node(field) switch
        {
            null => null,
            YamlScalarNode { Value: var v } => v ?? "",
            _ => throw Error(field, "must be a single value, not a list or mapping"),
        };

        public double? Number(string field)
        {
            if (Text(field) is not { } text) return null;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                throw Error(field, $"is '{text}'; expected a finite number");
            return value;
        }

        public double? Share(string field)
        {
            if (Number(field) is not { } value) return null;
            if (value is < 0 or > 1) throw Error(field, $"is {ExpectationText.Number(value)}; it must lie between 0 and 1");
            return value;
        }

        private bool? Flag(string field) => Text(field) switch
        {
            null => null,
            "true" => true,
            "false" => false,
            var other => throw Error(field, $"is '{other}'; expected true or false"),
        };

        public Bounds Bounds(bool inclusiveFlags, bool whole = false)
        {
            var (min, max) = (Number("min"), Number("max"));
            if (min is null && max is null) throw Error("min", "and 'max' are both missing; give at least one");
            if (whole)
            {
                foreach (var (field, value) in new[] { ("min", min), ("max", max) })
                    if (value is { } v && (v < 0 || v != Math.Floor(v))) throw Error(field, $"is {ExpectationText.Number(v)}; a row count is a whole number >= 0");
            }
            var bounds = new Bounds(min, max, inclusiveFlags ? Flag("min_inclusive") ?? true : true, inclusiveFlags ? Flag("max_inclusive") ?? true : true);
            if (min is { } low && max is { } high)
            {
                if (low > high)
                    throw Error("min", $"({ExpectationText.Number(low)}) is greater than 'max' ({ExpectationText.Number(high)}), so nothing can pass");
                if (low == high && !(bounds.MinInclusive && bounds.MaxInclusive))
                    throw Error("min", $"equals 'max' ({ExpectationText.Number(low)}) with an exclusive bound, so nothing can pass");
            }
            return bounds;
        }

        public IReadOnlyList<string> Values(string field)
        {
            if (Node(field) is not YamlSequenceNode list) throw Error(field, "is missing or not a list; list the allowed values");
            if (list.Children.Count == 0) throw Error(field, "is empty; list at least one allowed value");
            if (list.Children.Count > MaxSetValues) throw Error(field, $"has {list.Children.Count} values; at most {MaxSetValues} are allowed");
            return list.Children.Select((v, i) => v is YamlScalarNode { Value: { } s } ? s
                : throw Error(field, $"entry {i} must be a single value")).ToList();
        }
    }
}
