using System.Globalization;
using YamlDotNet.Serialization;

namespace Cairn.ML.Training;

public enum MlTask { Binary, Multiclass, Regression }

public enum FeatureKind { Numeric, Categorical, Text }

/// <summary>A feature named in a recipe; <see cref="Kind"/> null means "infer from the data".</summary>
public sealed record FeatureSpec(string Name, FeatureKind? Kind);

/// <summary>
/// A training recipe, usually read from YAML:
/// <code>
/// experiment: churn
/// task: binary                 # binary | multiclass | regression
/// data: churn.csv              # relative to the recipe file
/// label: churned
/// features: [age, plan, {name: notes, type: text}]   # default: every other column; types inferred
/// split: {test_fraction: 0.2, seed: 42}              # or cv: {folds: 5, seed: 42}
/// trainer:
///   name: fasttree             # fasttree | lightgbm | sdca | lbfgs | fastforest
///   hyperparameters: {number_of_trees: 100, learning_rate: 0.1}
/// sweep: {method: grid, parameters: {number_of_trees: [50, 100]}}   # optional; see SweepSpec
/// </code>
/// Every field is checked by <see cref="Validate"/>; errors name the file and the field.
/// </summary>
public sealed class Recipe
{
    public string Source { get; init; } = "recipe";
    public string Experiment { get; init; } = "Default";
    public MlTask Task { get; init; }
    public string Data { get; init; } = "";
    public string Label { get; init; } = "";
    /// <summary>Null: every column but the label.</summary>
    public IReadOnlyList<FeatureSpec>? Features { get; init; }
    public double TestFraction { get; init; } = 0.2;
    /// <summary>Cross-validation folds; 0 means a train/test split.</summary>
    public int Folds { get; init; }
    public int Seed { get; init; } = 42;
    public string Trainer { get; init; } = "fasttree";
    public IReadOnlyDictionary<string, double> Hyperparameters { get; init; } = new Dictionary<string, double>();
    public string? RunName { get; init; }
    /// <summary>Compute permutation feature importances on the held-out rows (recipe field <c>feature_importance</c>).</summary>
    public bool FeatureImportance { get; init; } = true;

    /// <summary>
    /// With more rows than the reference sample keeps, also store a quantile sketch of every numeric feature over all rows
    /// (recipe field <c>reference_sketch</c>, default false; see <see cref="ReferenceSample"/>).
    /// </summary>
    public bool ReferenceSketch { get; init; }
    /// <summary>A hyperparameter sweep over this recipe (null: one training).</summary>
    public SweepSpec? Sweep { get; init; }

    /// <summary>This recipe with another trainer and hyperparameters and no sweep: one trial of a sweep.</summary>
    public Recipe WithTrial(string trainer, IReadOnlyDictionary<string, double> hyperparameters) => new()
    {
        Source = Source, Experiment = Experiment, Task = Task, Data = Data, Label = Label, Features = Features,
        TestFraction = TestFraction, Folds = Folds, Seed = Seed, RunName = RunName, FeatureImportance = FeatureImportance,
        ReferenceSketch = ReferenceSketch, Trainer = trainer, Hyperparameters = hyperparameters, Sweep = null,
    };

    private Recipe WithSweep(SweepSpec sweep) => new()
    {
        Source = Source, Experiment = Experiment, Task = Task, Data = Data, Label = Label, Features = Features,
        TestFraction = TestFraction, Folds = Folds, Seed = Seed, RunName = RunName, FeatureImportance = FeatureImportance,
        ReferenceSketch = ReferenceSketch, Trainer = Trainer, Hyperparameters = Hyperparameters, Sweep = sweep,
    };

    /// <summary>Reads and validates a YAML recipe; <see cref="Data"/> becomes a full path relative to the recipe's folder.</summary>
    public static Recipe Load(string path)
    {
        if (!File.Exists(path)) throw new ResourceDoesNotExistException($"Recipe file '{path}' does not exist.");
        return Parse(File.ReadAllText(path), path, Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Parses YAML text; <paramref name="baseFolder"/> resolves a relative data path.</summary>
    public static Recipe Parse(string yaml, string source = "recipe", string? baseFolder = null)
    {
        Dictionary<object, object?> root;
        try
        {
            root = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object?>>(yaml)
                ?? throw new InvalidParameterValueException($"{source}: the recipe is empty.");
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new InvalidParameterValueException($"{source}: invalid YAML at line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
        }
        var known = new[] { "experiment", "task", "data", "label", "features", "split", "cv", "trainer", "run_name", "sweep", "feature_importance", "reference_sketch" };
        foreach (var key in root.Keys.Select(k => k.ToString()!))
            if (!known.Contains(key)) throw Bad(source, key, $"unknown field; expected one of {string.Join(", ", known)}");

        var task = Text(root, "task", source) ?? throw Bad(source, "task", "required (binary, multiclass or regression)");
        var data = Text(root, "data", source) ?? throw Bad(source, "data", "required: the path of a CSV or Parquet file");
        var label = Text(root, "label", source) ?? throw Bad(source, "label", "required: the name of the label column");
        if (root.ContainsKey("split") && root.ContainsKey("cv")) throw Bad(source, "cv", "give either 'split' or 'cv', not both");

        var trainerName = "fasttree";
        var hyper = new Dictionary<string, double>(StringComparer.Ordinal);
        switch (root.GetValueOrDefault("trainer"))
        {
            case null: break;
            case string name: trainerName = name; break;
            case Dictionary<object, object?> trainer:
                foreach (var key in trainer.Keys.Select(k => k.ToString()!))
                    if (key is not ("name" or "hyperparameters")) throw Bad(source, $"trainer.{key}", "unknown field; expected name or hyperparameters");
                trainerName = Text(trainer, "name", source, "trainer.name") ?? trainerName;
                if (trainer.GetValueOrDefault("hyperparameters") is { } hp)
                {
                    if (hp is not Dictionary<object, object?> map) throw Bad(source, "trainer.hyperparameters", "expected a map of name: number");
                    foreach (var (key, value) in map)
                        hyper[key.ToString()!] = Number(value, source, $"trainer.hyperparameters.{key}");
                }
                break;
            default: throw Bad(source, "trainer", "expected a trainer name or a map with name and hyperparameters");
        }

        var recipe = new Recipe
        {
            Source = source,
            Experiment = Text(root, "experiment", source) ?? "Default",
            RunName = Text(root, "run_name", source),
            Task = task.ToLowerInvariant() switch
            {
                "binary" => MlTask.Binary,
                "multiclass" => MlTask.Multiclass,
                "regression" => MlTask.Regression,
                _ => throw Bad(source, "task", $"'{task}' is not a task; expected binary, multiclass or regression"),
            },
            Data = baseFolder is null || Path.IsPathRooted(data) ? data : Path.GetFullPath(Path.Combine(baseFolder, data)),
            Label = label,
            Features = ParseFeatures(root.GetValueOrDefault("features"), source),
            TestFraction = Section(root, "split", "test_fraction", source) is { } f ? Number(f, source, "split.test_fraction") : 0.2,
            Folds = Section(root, "cv", "folds", source) is { } folds ? (int)Integer(folds, source, "cv.folds") : root.ContainsKey("cv") ? 5 : 0,
            Seed = (int)Integer(Section(root, "split", "seed", source) ?? Section(root, "cv", "seed", source) ?? 42, source, root.ContainsKey("cv") ? "cv.seed" : "split.seed"),
            Trainer = trainerName.ToLowerInvariant(),
            Hyperparameters = hyper,
            FeatureImportance = root.GetValueOrDefault("feature_importance") switch
            {
                null => true,
                string flag when bool.TryParse(flag, out var on) => on,
                var other => throw Bad(source, "feature_importance", $"'{other}' is not true or false"),
            },
            ReferenceSketch = root.GetValueOrDefault("reference_sketch") switch
            {
                null => false,
                string flag when bool.TryParse(flag, out var on) => on,
                var other => throw Bad(source, "reference_sketch", $"'{other}' is not true or false"),
            },
        };
        recipe.Validate();
        return root.TryGetValue("sweep", out var sweep) ? recipe.WithSweep(SweepSpec.Parse(sweep, recipe)) : recipe;
    }

    /// <summary>Checks the fields that do not need the data: ranges, trainer and hyperparameter names.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Label)) throw Bad(Source, "label", "required: the name of the label column");
        if (string.IsNullOrWhiteSpace(Data)) throw Bad(Source, "data", "required: the path of a CSV or Parquet file");
        if (Folds == 0 && TestFraction is <= 0 or >= 1 || double.IsNaN(TestFraction))
            throw Bad(Source, "split.test_fraction", $"{Format(TestFraction)} is out of range; expected a number between 0 and 1 (exclusive)");
        if (Folds != 0 && Folds is < 2 or > 20) throw Bad(Source, "cv.folds", $"{Folds} is out of range; expected 2 to 20");
        if (Seed < 0) throw Bad(Source, Folds > 0 ? "cv.seed" : "split.seed", "must be 0 or more");
        if (Features is not null)
        {
            if (Features.Count == 0) throw Bad(Source, "features", "lists no feature; omit it to use every column but the label");
            if (Features.FirstOrDefault(f => f.Name == Label) is { } f) throw Bad(Source, "features", $"'{f.Name}' is the label; it cannot also be a feature");
            if (Features.GroupBy(f => f.Name).FirstOrDefault(g => g.Count() > 1) is { } dup) throw Bad(Source, "features", $"'{dup.Key}' is listed twice");
        }
        TrainerCatalog.Validate(this);
    }

    private static List<FeatureSpec>? ParseFeatures(object? node, string source)
    {
        switch (node)
        {
            case null: return null;
            case List<object?> list:
                return list.Select((item, i) => item switch
                {
                    string name => new FeatureSpec(name, null),
                    Dictionary<object, object?> map when map.ContainsKey("name") => new FeatureSpec(
                        Text(map, "name", source, $"features[{i}].name")!, Kind(Text(map, "type", source, $"features[{i}].type"), source, $"features[{i}].type")),
                    Dictionary<object, object?> { Count: 1 } map => new FeatureSpec(map.Keys.First().ToString()!,
                        Kind(map.Values.First()?.ToString(), source, $"features.{map.Keys.First()}")),
                    _ => throw Bad(source, $"features[{i}]", "expected a column name or {name: ..., type: numeric|categorical|text}"),
                }).ToList();
            case Dictionary<object, object?> map:
                return map.Select(kv => new FeatureSpec(kv.Key.ToString()!, Kind(kv.Value?.ToString(), source, $"features.{kv.Key}"))).ToList();
            default:
                throw Bad(source, "features", "expected a list of column names or a map of name: type");
        }
    }

    private static FeatureKind? Kind(string? type, string source, string field) => type?.ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "numeric" or "number" => FeatureKind.Numeric,
        "categorical" or "category" => FeatureKind.Categorical,
        "text" => FeatureKind.Text,
        _ => throw Bad(source, field, $"'{type}' is not a feature type; expected numeric, categorical, text or auto"),
    };

    private static object? Section(Dictionary<object, object?> root, string section, string key, string source)
    {
        if (!root.TryGetValue(section, out var node) || node is null) return null;
        if (node is not Dictionary<object, object?> map) throw Bad(source, section, "expected a map");
        var allowed = section == "split" ? "test_fraction" : "folds";
        foreach (var k in map.Keys.Select(k => k.ToString()!))
            if (k != allowed && k != "seed") throw Bad(source, $"{section}.{k}", $"unknown field; expected {allowed} or seed");
        return map.GetValueOrDefault(key);
    }

    private static string? Text(Dictionary<object, object?> map, string key, string source, string? field = null) =>
        map.GetValueOrDefault(key) switch
        {
            null => null,
            string s => s,
            var other => throw Bad(source, field ?? key, $"expected text, got {other.GetType().Name}"),
        };

    private static double Number(object? value, string source, string field) =>
        value is string s && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d
            : throw Bad(source, field, $"'{value}' is not a number");

    private static long Integer(object? value, string source, string field) =>
        value is string s && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l
            : value is int or long ? Convert.ToInt64(value, CultureInfo.InvariantCulture)
            : throw Bad(source, field, $"'{value}' is not a whole number");

    internal static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);

    internal static InvalidParameterValueException Bad(string source, string field, string rule) => new($"{source}: invalid '{field}': {rule}.");
}
