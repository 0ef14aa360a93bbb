using System.Globalization;

namespace Cairn.ML.Training;

public enum SweepMethod { Grid, Random }

/// <summary>
/// One axis of a sweep: either a list of values (a grid axis, or a random choice) or a numeric range (random only),
/// sampled uniformly or, with <see cref="Log"/>, log-uniformly, and rounded when <see cref="Integer"/>.
/// <see cref="Name"/> is a hyperparameter of the trainer, or <c>trainer</c> itself (then the values are trainer names).
/// </summary>
public sealed record SweepParameter(string Name, IReadOnlyList<object>? Values, double Min = 0, double Max = 0, bool Log = false, bool Integer = false)
{
    public bool IsRange => Values is null;
}

/// <summary>The trainer and hyperparameters of one trial.</summary>
public sealed record TrialSettings(int Number, string Trainer, IReadOnlyDictionary<string, double> Hyperparameters);

/// <summary>
/// The <c>sweep:</c> section of a recipe:
/// <code>
/// sweep:
///   method: random            # grid | random
///   trials: 20                # random: required; grid: optional cap on the combinations
///   time_budget: 10m          # optional: 90s, 10m, 1h or seconds; no trial starts after it
///   metric: auc               # default: auc, macro_accuracy or rmse by task
///   goal: maximize            # default from the metric
///   seed: 7                   # default: the split seed
///   parameters:
///     number_of_trees: [50, 100, 200]
///     learning_rate: {min: 0.01, max: 0.3, log: true}
///     number_of_leaves: {min: 8, max: 64, integer: true}
///     trainer: [fasttree, lightgbm]
/// </code>
/// Every value a trial can take is checked against the trainer catalog before anything runs.
/// </summary>
public sealed class SweepSpec
{
    public SweepMethod Method { get; init; }
    public int? Trials { get; init; }
    public TimeSpan? TimeBudget { get; init; }
    public string Metric { get; init; } = "";
    public bool Maximize { get; init; }
    public int Seed { get; init; }
    public IReadOnlyList<SweepParameter> Parameters { get; init; } = [];

    /// <summary>The metric a task is judged by when the sweep does not name one.</summary>
    public static string DefaultMetric(MlTask task) => task switch
    {
        MlTask.Binary => "auc",
        MlTask.Multiclass => "macro_accuracy",
        _ => "rmse",
    };

    /// <summary>The metrics each task produces, and whether larger is better.</summary>
    public static IReadOnlyDictionary<string, bool> MetricsOf(MlTask task) => task switch
    {
        MlTask.Binary => new Dictionary<string, bool> { ["accuracy"] = true, ["auc"] = true, ["f1"] = true, ["precision"] = true, ["recall"] = true, ["average_precision"] = true, ["log_loss"] = false },
        MlTask.Multiclass => new Dictionary<string, bool> { ["micro_accuracy"] = true, ["macro_accuracy"] = true, ["log_loss"] = false },
        _ => new Dictionary<string, bool> { ["rmse"] = false, ["mae"] = false, ["r2"] = true },
    };

    private static readonly string[] Known = ["method", "trials", "time_budget", "metric", "goal", "seed", "parameters"];

    /// <summary>Parses the section; <paramref name="recipe"/> supplies the task, trainer, seed and the file name for errors.</summary>
    internal static SweepSpec Parse(object? node, Recipe recipe)
    {
        var source = recipe.Source;
        if (node is not Dictionary<object, object?> map) throw Recipe.Bad(source, "sweep", "expected a map with method, parameters and trials");
        foreach (var key in map.Keys.Select(k => k.ToString()!))
            if (!Known.Contains(key)) throw Recipe.Bad(source, $"sweep.{key}", $"unknown field; expected one of {string.Join(", ", Known)}");

        var method = Text(map, "method", source)?.ToLowerInvariant() switch
        {
            null => throw Recipe.Bad(source, "sweep.method", "required: grid or random"),
            "grid" => SweepMethod.Grid,
            "random" => SweepMethod.Random,
            var other => throw Recipe.Bad(source, "sweep.method", $"'{other}' is not a method; expected grid or random"),
        };
        int? trials = map.GetValueOrDefault("trials") is { } t ? (int)WholeNumber(t, source, "sweep.trials", 1, 10_000) : null;
        if (method == SweepMethod.Random && trials is null) throw Recipe.Bad(source, "sweep.trials", "required for a random sweep: how many trials to sample");

        var metrics = MetricsOf(recipe.Task);
        var metric = Text(map, "metric", source) ?? DefaultMetric(recipe.Task);
        if (!metrics.TryGetValue(metric, out var larger))
            throw Recipe.Bad(source, "sweep.metric", $"a {recipe.Task.ToString().ToLowerInvariant()} task does not produce '{metric}'; expected one of {string.Join(", ", metrics.Keys)}");
        var maximize = Text(map, "goal", source)?.ToLowerInvariant() switch
        {
            null => larger,
            "maximize" or "max" => true,
            "minimize" or "min" => false,
            var other => throw Recipe.Bad(source, "sweep.goal", $"'{other}' is not a goal; expected maximize or minimize"),
        };

        if (map.GetValueOrDefault("parameters") is not Dictionary<object, object?> space || space.Count == 0)
            throw Recipe.Bad(source, "sweep.parameters", "required: a map of hyperparameter name to a list of values or a {min, max} range");
        var parameters = space.Select(kv => ParseParameter(kv.Key.ToString()!, kv.Value, method, source)).ToList();

        var spec = new SweepSpec
        {
            Method = method,
            Trials = trials,
            TimeBudget = map.GetValueOrDefault("time_budget") is { } budget ? Duration(budget, source) : null,
            Metric = metric,
            Maximize = maximize,
            Seed = map.GetValueOrDefault("seed") is { } seed ? (int)WholeNumber(seed, source, "sweep.seed", 0, int.MaxValue) : recipe.Seed,
            Parameters = parameters,
        };
        spec.CheckAgainstCatalog(recipe);
        return spec;
    }

    private static SweepParameter ParseParameter(string name, object? node, SweepMethod method, string source)
    {
        var field = $"sweep.parameters.{name}";
        switch (node)
        {
            case List<object?> list:
                if (list.Count == 0) throw Recipe.Bad(source, field, "lists no value");
                if (name == "trainer")
                    return new SweepParameter(name, list.Select((v, i) => (object)(v as string ?? throw Recipe.Bad(source, $"{field}[{i}]", "expected a trainer name"))).ToList());
                var values = list.Select((v, i) => (object)Number(v, source, $"{field}[{i}]")).ToList();
                if (values.Distinct().Count() != values.Count) throw Recipe.Bad(source, field, "lists a value twice");
                return new SweepParameter(name, values);
            case Dictionary<object, object?> range:
                if (name == "trainer") throw Recipe.Bad(source, field, "expected a list of trainer names");
                foreach (var key in range.Keys.Select(k => k.ToString()!))
                    if (key is not ("min" or "max" or "log" or "integer")) throw Recipe.Bad(source, $"{field}.{key}", "unknown field; expected min, max, log or integer");
                if (method == SweepMethod.Grid) throw Recipe.Bad(source, field, "a grid sweep needs a list of values; a {min, max} range is for method: random");
                var min = Number(range.GetValueOrDefault("min") ?? throw Recipe.Bad(source, $"{field}.min", "required"), source, $"{field}.min");
                var max = Number(range.GetValueOrDefault("max") ?? throw Recipe.Bad(source, $"{field}.max", "required"), source, $"{field}.max");
                if (min > max) throw Recipe.Bad(source, field, $"min {Recipe.Format(min)} is larger than max {Recipe.Format(max)}");
                var log = Flag(range.GetValueOrDefault("log"), source, $"{field}.log");
                if (log && min <= 0) throw Recipe.Bad(source, $"{field}.min", "a log range needs min > 0");
                var integer = Flag(range.GetValueOrDefault("integer"), source, $"{field}.integer");
                if (integer && Math.Ceiling(min) > Math.Floor(max)) throw Recipe.Bad(source, field, "the range holds no whole number");
                return new SweepParameter(name, null, min, max, log, integer);
            default:
                throw Recipe.Bad(source, field, "expected a list of values or a {min, max} range");
        }
    }

    /// <summary>Checks every trainer and every value a trial can take, so a bad space fails before the first trial.</summary>
    private void CheckAgainstCatalog(Recipe recipe)
    {
        var trainers = Parameters.FirstOrDefault(p => p.Name == "trainer")?.Values?.Cast<string>().Select(t => t.ToLowerInvariant()).ToList() ?? [recipe.Trainer];
        foreach (var trainer in trainers)
        {
            foreach (var parameter in Parameters.Where(p => p.Name != "trainer"))
            {
                var values = parameter.IsRange ? [parameter.Min, parameter.Max] : parameter.Values!.Cast<double>().ToArray();
                foreach (var value in values)
                {
                    var probe = recipe.WithTrial(trainer, new Dictionary<string, double>(recipe.Hyperparameters) { [parameter.Name] = parameter.Integer ? Math.Ceiling(value) : value });
                    try
                    {
                        TrainerCatalog.Validate(probe);
                    }
                    catch (InvalidParameterValueException e)
                    {
                        // Name the sweep field, not the recipe's trainer section the probe was built as.
                        var rule = e.Message[(e.Message.IndexOf("': ", StringComparison.Ordinal) + 3)..].TrimEnd('.');
                        var field = e.Message.Contains("'trainer.name'", StringComparison.Ordinal) ? "sweep.parameters.trainer" : $"sweep.parameters.{parameter.Name}";
                        throw Recipe.Bad(recipe.Source, field, trainers.Count > 1 ? $"{rule} (trainer {trainer})" : rule);
                    }
                }
            }
            try
            {
                TrainerCatalog.Validate(recipe.WithTrial(trainer, recipe.Hyperparameters));
            }
            catch (InvalidParameterValueException e) when (trainers.Count > 1 || Parameters.Any(p => p.Name == "trainer"))
            {
                var rule = e.Message[(e.Message.IndexOf("': ", StringComparison.Ordinal) + 3)..].TrimEnd('.');
                throw Recipe.Bad(recipe.Source, "sweep.parameters.trainer", rule);
            }
        }
    }

    /// <summary>
    /// The trials, in the order they start: every grid combination (the first <see cref="Trials"/> of them when capped), or
    /// <see cref="Trials"/> random draws from a generator seeded with <see cref="Seed"/>, so the same recipe gives the same trials.
    /// </summary>
    public IReadOnlyList<TrialSettings> Expand(Recipe recipe)
    {
        var trials = new List<TrialSettings>();
        if (Method == SweepMethod.Grid)
        {
            IEnumerable<List<(string Name, object Value)>> combos = [[]];
            foreach (var parameter in Parameters)
                combos = combos.SelectMany(c => parameter.Values!.Select(v => new List<(string, object)>(c) { (parameter.Name, v) }));
            foreach (var combo in combos)
            {
                if (Trials is { } cap && trials.Count >= cap) break;
                trials.Add(Settings(trials.Count + 1, recipe, combo));
            }
            return trials;
        }
        var random = new Random(Seed);
        for (var n = 1; n <= Trials; n++)
            trials.Add(Settings(n, recipe, Parameters.Select(p => (p.Name, Sample(p, random))).ToList()));
        return trials;
    }

    private static TrialSettings Settings(int number, Recipe recipe, IEnumerable<(string Name, object Value)> values)
    {
        var trainer = recipe.Trainer;
        var hyper = new Dictionary<string, double>(recipe.Hyperparameters, StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (name == "trainer") trainer = ((string)value).ToLowerInvariant();
            else hyper[name] = (double)value;
        }
        return new TrialSettings(number, trainer, hyper);
    }

    private static object Sample(SweepParameter parameter, Random random)
    {
        if (!parameter.IsRange) return parameter.Values![random.Next(parameter.Values.Count)];
        if (parameter.Integer)
        {
            // Whole numbers: every integer in range equally likely, or (log) each magnitude equally likely; low > 0 for log.
            var low = Math.Ceiling(parameter.Min);
            var high = Math.Floor(parameter.Max);
            var draw = parameter.Log
                ? Math.Exp(Math.Log(low) + random.NextDouble() * (Math.Log(high + 1) - Math.Log(low)))
                : low + random.NextDouble() * (high - low + 1);
            return Math.Clamp(Math.Floor(draw), low, high);
        }
        var u = random.NextDouble();
        var value = parameter.Log
            ? Math.Exp(Math.Log(parameter.Min) + u * (Math.Log(parameter.Max) - Math.Log(parameter.Min)))
            : parameter.Min + u * (parameter.Max - parameter.Min);
        // Four significant digits keep params readable (0.0123, not 0.012345678901) and stay inside the range.
        var rounded = double.Parse(value.ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return Math.Clamp(rounded, parameter.Min, parameter.Max);
    }

    /// <summary>A time budget: <c>90s</c>, <c>10m</c>, <c>1h</c>, or a number of seconds.</summary>
    internal static TimeSpan Duration(object value, string source)
    {
        var text = value.ToString()!.Trim().ToLowerInvariant();
        var (number, unit) = text.Length > 0 && char.IsLetter(text[^1]) ? (text[..^1], text[^1]) : (text, 's');
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || !double.IsFinite(amount) || amount <= 0
            || unit is not ('s' or 'm' or 'h'))
            throw Recipe.Bad(source, "sweep.time_budget", $"'{value}' is not a duration; expected e.g. 90s, 10m, 1h or a number of seconds above 0");
        return unit switch { 'h' => TimeSpan.FromHours(amount), 'm' => TimeSpan.FromMinutes(amount), _ => TimeSpan.FromSeconds(amount) };
    }

    /// <summary>How the space reads as a param value: <c>number_of_trees=[50,100]; learning_rate=[0.01..0.3 log]</c>.</summary>
    public string Describe() => string.Join("; ", Parameters.Select(p => p.IsRange
        ? $"{p.Name}=[{Recipe.Format(p.Min)}..{Recipe.Format(p.Max)}{(p.Log ? " log" : "")}{(p.Integer ? " int" : "")}]"
        : $"{p.Name}=[{string.Join(",", p.Values!.Select(v => v is double d ? Recipe.Format(d) : v.ToString()))}]"));

    private static string? Text(Dictionary<object, object?> map, string key, string source) => map.GetValueOrDefault(key) switch
    {
        null => null,
        string s => s,
        var other => throw Recipe.Bad(source, $"sweep.{key}", $"expected text, got {other.GetType().Name}"),
    };

    private static double Number(object? value, string source, string field) =>
        value is string s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d
            : throw Recipe.Bad(source, field, $"'{value}' is not a number");

    private static long WholeNumber(object value, string source, string field, long min, long max) =>
        value is string s && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)
            ? l >= min && l <= max ? l : throw Recipe.Bad(source, field, $"{l} is out of range; expected {min} to {max}")
            : throw Recipe.Bad(source, field, $"'{value}' is not a whole number");

    private static bool Flag(object? value, string source, string field) => value switch
    {
        null => false,
        string s when bool.TryParse(s, out var b) => b,
        _ => throw Recipe.Bad(source, field, $"'{value}' is not true or false"),
    };
}
