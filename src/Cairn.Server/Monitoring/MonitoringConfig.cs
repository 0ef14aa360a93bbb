using System.Globalization;
using Cairn.Monitoring;
using Cairn.Serving;
using Cronos;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Cairn.Server.Monitoring;

/// <summary>One monitored deployment: when its windows are evaluated, how long they are, what they are compared with and how.</summary>
/// <param name="Deployment">The deployment.</param>
/// <param name="Schedule">When the monitor looks for finished windows (cron, UTC).</param>
/// <param name="ScheduleText">The cron expression as written.</param>
/// <param name="Duration">A time window's length, or null for a row window.</param>
/// <param name="Rows">A row window's size, or null for a time window.</param>
/// <param name="ReferencePath">The reference file (absolute), or null for the model package's reference sample.</param>
/// <param name="Settings">Drift rules, prediction and label columns.</param>
internal sealed record MonitorSpec(string Deployment, CronExpression Schedule, string ScheduleText, TimeSpan? Duration, int? Rows, string? ReferencePath,
    MonitorSettings Settings);

/// <summary>
/// The monitoring file (<c>cairn server --monitoring FILE</c>): a YAML mapping whose <c>monitors:</c> list names the monitored
/// deployments and whose <c>alerts:</c> section belongs to the alert rules (read there, accepted here). Any other key, and any
/// bad value, is refused naming its path in the file and the rule.
/// </summary>
internal sealed record MonitoringConfig(IReadOnlyList<MonitorSpec> Monitors)
{
    /// <summary>The most monitors one file may list.</summary>
    public const int MaxMonitors = 100;

    /// <summary>The largest monitoring file read.</summary>
    public const long MaxFileBytes = 1024 * 1024;

    public static readonly TimeSpan MinDuration = TimeSpan.FromMinutes(1);

    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(31);

    public static MonitoringConfig Empty { get; } = new([]);

    private static readonly string[] TopKeys = ["monitors", "alerts"];

    private static readonly string[] MonitorKeys = ["deployment", "schedule", "window", "reference", "label", "prediction", "drift", "max_features"];

    private static readonly string[] DriftKeys = ["numeric_method", "categorical_method", "thresholds", "features", "drift_share"];

    /// <summary>Reads and checks the file; relative reference paths resolve against its folder.</summary>
    public static MonitoringConfig Load(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (!info.Exists) throw Invalid(full, "", "the file does not exist");
        if (info.Length > MaxFileBytes) throw Invalid(full, "", $"the file is larger than {MaxFileBytes} bytes");
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(full);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw Invalid(full, "", $"it is not valid YAML ({e.Start}: {e.Message})");
        }
        return Parse(stream, full);
    }

    /// <summary>Parses YAML text (tests and hosts that hold the text); <paramref name="file"/> names it in errors and anchors relative paths.</summary>
    public static MonitoringConfig Parse(string yaml, string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw Invalid(file, "", $"it is not valid YAML ({e.Start}: {e.Message})");
        }
        return Parse(stream, Path.GetFullPath(file));
    }

    private static MonitoringConfig Parse(YamlStream stream, string file)
    {
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" }) return Empty;
        if (stream.Documents[0].RootNode is not YamlMappingNode root) throw Invalid(file, "", "the top level must be a mapping with 'monitors:' (and 'alerts:')");
        CheckKeys(file, "", root, TopKeys);
        if (Child(root, "monitors") is not { } monitorsNode) return Empty;
        if (monitorsNode is YamlScalarNode { Value: null or "" }) return Empty;
        if (monitorsNode is not YamlSequenceNode list) throw Invalid(file, "monitors", "it must be a list of monitors");
        if (list.Children.Count > MaxMonitors) throw Invalid(file, "monitors", $"at most {MaxMonitors} monitors");
        var monitors = new List<MonitorSpec>();
        for (var i = 0; i < list.Children.Count; i++)
        {
            var at = $"monitors[{i}]";
            if (list.Children[i] is not YamlMappingNode m) throw Invalid(file, at, "each monitor must be a mapping (deployment, schedule, window, ...)");
            var spec = Monitor(file, at, m);
            if (monitors.Any(o => o.Deployment == spec.Deployment))
                throw Invalid(file, at + ".deployment", $"deployment '{spec.Deployment}' is monitored twice");
            monitors.Add(spec);
        }
        return new MonitoringConfig(monitors);
    }

    private static MonitorSpec Monitor(string file, string at, YamlMappingNode m)
    {
        CheckKeys(file, at, m, MonitorKeys);
        var deployment = Scalar(file, at + ".deployment", Child(m, "deployment")) ?? throw Invalid(file, at + ".deployment", "it is required");
        try
        {
            DeploymentValidator.ValidateName(deployment);
        }
        catch (InvalidParameterValueException e)
        {
            throw Invalid(file, at + ".deployment", e.Message);
        }
        var scheduleText = Scalar(file, at + ".schedule", Child(m, "schedule")) ?? throw Invalid(file, at + ".schedule", "it is required (a cron expression, e.g. '0 * * * *')");
        CronExpression schedule;
        try
        {
            schedule = CronExpression.Parse(scheduleText, scheduleText.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException e)
        {
            throw Invalid(file, at + ".schedule", $"'{scheduleText}' is not a cron expression of 5 fields (or 6 with seconds): {e.Message}");
        }
        var (duration, rows) = Window(file, at + ".window", Child(m, "window") ?? throw Invalid(file, at + ".window", "it is required: a duration (1h, 30m, 1d) or {rows: N}"));
        var reference = Scalar(file, at + ".reference", Child(m, "reference"));
        string? referencePath = null;
        if (reference is not null)
        {
            if (!reference.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && !reference.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
                throw Invalid(file, at + ".reference", $"'{reference}' must be a .csv or .parquet file");
            referencePath = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, reference));
        }
        var maxFeatures = Child(m, "max_features") is { } mf ? Integer(file, at + ".max_features", mf, 1, 1000) : 200;
        var settings = new MonitorSettings
        {
            Drift = Drift(file, at + ".drift", Child(m, "drift")),
            LabelColumn = Scalar(file, at + ".label", Child(m, "label")),
            PredictionColumn = Scalar(file, at + ".prediction", Child(m, "prediction")),
            MaxFeatures = maxFeatures,
        };
        return new MonitorSpec(deployment, schedule, scheduleText, duration, rows, referencePath, settings);
    }

    private static (TimeSpan? Duration, int? Rows) Window(string file, string at, YamlNode node)
    {
        if (node is YamlScalarNode scalar) return (Duration(file, at, scalar.Value ?? ""), null);
        if (node is not YamlMappingNode map) throw Invalid(file, at, "a duration (1h, 30m, 1d) or {rows: N} or {duration: 1h}");
        CheckKeys(file, at, map, ["duration", "rows"]);
        var duration = Child(map, "duration") is { } d ? Duration(file, at + ".duration", Scalar(file, at + ".duration", d) ?? "") : (TimeSpan?)null;
        var rows = Child(map, "rows") is { } r ? Integer(file, at + ".rows", r, 1, MonitorSettings.MaxWindowRows) : (int?)null;
        if ((duration is null) == (rows is null)) throw Invalid(file, at, "give either duration or rows");
        return (duration, rows);
    }

    /// <summary>A duration: a whole number and a unit, s, m, h or d (e.g. 1h, 15m); between 1 minute and 31 days.</summary>
    internal static TimeSpan Duration(string file, string at, string text)
    {
        var t = text.Trim();
        TimeSpan? value = null;
        if (t.Length >= 2 && long.TryParse(t.AsSpan(0, t.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= 1_000_000)
            value = t[^1] switch
            {
                's' => TimeSpan.FromSeconds(n),
                'm' => TimeSpan.FromMinutes(n),
                'h' => TimeSpan.FromHours(n),
                'd' => TimeSpan.FromDays(n),
                _ => null,
            };
        if (value is not { } v) throw Invalid(file, at, $"'{text}' is not a duration: write a whole number and s, m, h or d (e.g. 1h)");
        if (v < MinDuration || v > MaxDuration) throw Invalid(file, at, $"'{text}' must be between 1m and 31d");
        return v;
    }

    private static DriftOptions Drift(string file, string at, YamlNode? node)
    {
        var options = new DriftOptions();
        if (node is null) return options;
        if (node is not YamlMappingNode map) throw Invalid(file, at, "it must be a mapping (numeric_method, categorical_method, thresholds, features, drift_share)");
        CheckKeys(file, at, map, DriftKeys);
        try
        {
            if (Scalar(file, at + ".numeric_method", Child(map, "numeric_method")) is { } nm) options.NumericMethod = DriftOptions.ParseMethod(nm, at + ".numeric_method");
            if (Scalar(file, at + ".categorical_method", Child(map, "categorical_method")) is { } cm) options.CategoricalMethod = DriftOptions.ParseMethod(cm, at + ".categorical_method");
            if (Child(map, "drift_share") is { } share) options.DriftShare = Number(file, at + ".drift_share", share);
            if (Child(map, "thresholds") is { } thresholds)
            {
                if (thresholds is not YamlMappingNode t) throw Invalid(file, at + ".thresholds", "it must map a method to a threshold (psi: 0.2)");
                foreach (var (key, value) in t.Children)
                {
                    var name = ((YamlScalarNode)key).Value ?? "";
                    var method = DriftOptions.ParseMethod(name, $"{at}.thresholds.{name}");
                    options.Thresholds[method] = DriftOptions.CheckThreshold(method, Number(file, $"{at}.thresholds.{name}", value), $"{at}.thresholds.{name}");
                }
            }
            if (Child(map, "features") is { } features)
            {
                if (features is not YamlMappingNode f) throw Invalid(file, at + ".features", "it must map a feature to {method, threshold}");
                foreach (var (key, value) in f.Children)
                {
                    var name = ((YamlScalarNode)key).Value ?? "";
                    var fat = $"{at}.features.{name}";
                    if (value is not YamlMappingNode rule) throw Invalid(file, fat, "it must be a mapping with method and/or threshold");
                    CheckKeys(file, fat, rule, ["method", "threshold"]);
                    DriftMethod? method = Scalar(file, fat + ".method", Child(rule, "method")) is { } mt ? DriftOptions.ParseMethod(mt, fat + ".method") : null;
                    double? threshold = Child(rule, "threshold") is { } th ? Number(file, fat + ".threshold", th) : null;
                    options.Features[name] = new FeatureRule(method, threshold);
                }
            }
            options.Validate();
        }
        catch (InvalidParameterValueException e) when (!e.Message.StartsWith("Invalid monitoring file", StringComparison.Ordinal))
        {
            throw Invalid(file, at, e.Message);
        }
        return options;
    }

    private static void CheckKeys(string file, string at, YamlMappingNode map, string[] allowed)
    {
        foreach (var key in map.Children.Keys)
        {
            var name = (key as YamlScalarNode)?.Value ?? "";
            if (!allowed.Contains(name, StringComparer.Ordinal))
                throw Invalid(file, at.Length == 0 ? name : $"{at}.{name}", $"unknown key '{name}'; expected {string.Join(", ", allowed)}");
        }
    }

    private static YamlNode? Child(YamlMappingNode map, string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

    private static string? Scalar(string file, string at, YamlNode? node) => node switch
    {
        null => null,
        YamlScalarNode s => string.IsNullOrWhiteSpace(s.Value) ? null : s.Value,
        _ => throw Invalid(file, at, "it must be a single value"),
    };

    private static double Number(string file, string at, YamlNode node) =>
        Scalar(file, at, node) is { } text && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw Invalid(file, at, "it must be a number");

    private static int Integer(string file, string at, YamlNode node, int min, int max) =>
        Scalar(file, at, node) is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max ? v
            : throw Invalid(file, at, $"it must be a whole number between {min} and {max}");

    private static InvalidParameterValueException Invalid(string file, string at, string rule) =>
        new(at.Length == 0 ? $"Invalid monitoring file {file}: {rule}." : $"Invalid monitoring file {file}: '{at}': {rule}.");
}
