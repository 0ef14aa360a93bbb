using System.Globalization;
using System.Security.Cryptography;
using Cairn.ML.Models;

namespace Cairn.ML.Training;

/// <summary>A feature column with its resolved kind.</summary>
public sealed record Feature(string Name, FeatureKind Kind);

/// <summary>
/// The recipe's data checked against its CSV file: feature kinds resolved (numeric, categorical, text; overrides applied),
/// values converted, the label parsed for the task. Everything that can be wrong with the data fails here, before a run starts.
/// </summary>
public sealed class TrainingData
{
    private TrainingData(CsvTable table, IReadOnlyList<Feature> features, ColumnBatch batch, string?[] labels, IReadOnlyList<string> classes, string sha256)
    {
        Table = table;
        Features = features;
        Batch = batch;
        RawLabels = labels;
        Classes = classes;
        Sha256 = sha256;
        _anyMissingNumber = new(() => Features.Any(f => f.Kind == FeatureKind.Numeric && Array.Exists((double[])Batch[f.Name], double.IsNaN)));
    }

    public CsvTable Table { get; }

    public IReadOnlyList<Feature> Features { get; }

    /// <summary>The features: <c>double[]</c> (NaN for missing) for numeric, <c>string?[]</c> otherwise.</summary>
    public ColumnBatch Batch { get; }

    public string?[] RawLabels { get; }

    /// <summary>Binary: [negative, positive]; multiclass: the classes, sorted; regression: empty.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Hex SHA-256 of the file's bytes.</summary>
    public string Sha256 { get; }

    public int RowCount => Batch.RowCount;

    private readonly Lazy<bool> _anyMissingNumber;

    /// <summary>Whether any numeric feature is missing in any row (looked at once, then remembered; sweep trials share it).</summary>
    public bool AnyMissingNumber => _anyMissingNumber.Value;

    private Task<System.Text.Json.Nodes.JsonObject>? _profile;

    /// <summary>
    /// The <see cref="DataProfile"/> of these rows, started in the background on the first call (it needs only the data,
    /// so it can run while the model trains) and shared by every later call.
    /// </summary>
    public Task<System.Text.Json.Nodes.JsonObject> ProfileAsync() =>
        LazyInitializer.EnsureInitialized(ref _profile, () => Task.Run(() => DataProfile.Build(this)));

    /// <summary>Loads and checks the recipe's data file. Errors name the file and the column.</summary>
    public static TrainingData Load(Recipe recipe)
    {
        if (recipe.Data.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            // A Parquet file is read by seeking, so its digest is a read of its own, beside the first, from the page cache.
            // (A missing file fails in the read first, with the error that names it.)
            var digest = Task.Run(() => HashFile(recipe.Data));
            var parquet = ParquetTable.Read(recipe.Data);
            return From(parquet, recipe, digest.GetAwaiter().GetResult());
        }
        // A CSV's digest is computed from the bytes the parser reads: one read. The label and the features the recipe
        // declares categorical or text are kept as strings from the start; every other column is parsed as numbers.
        var text = new HashSet<string>(StringComparer.Ordinal) { recipe.Label };
        foreach (var spec in recipe.Features ?? [])
            if (spec.Kind is FeatureKind.Categorical or FeatureKind.Text) text.Add(spec.Name);
        var table = CsvTable.Read(recipe.Data, text);
        return From(table, recipe, table.Sha256!); // a CSV table always has its digest
    }

    public static TrainingData From(CsvTable table, Recipe recipe, string sha256)
    {
        var file = table.Path;
        if (table.IndexOf(recipe.Label) < 0)
            throw new InvalidParameterValueException($"{file}: the label column '{recipe.Label}' (recipe field 'label') is not in the file; columns: {string.Join(", ", table.Names)}.");
        var specs = recipe.Features ?? table.Names.Where(n => n != recipe.Label).Select(n => new FeatureSpec(n, null)).ToList();
        if (specs.Count == 0) throw new InvalidParameterValueException($"{file}: no feature column: the file has only the label '{recipe.Label}'.");
        var features = new List<Feature>();
        var batch = new ColumnBatch();
        // The columns that may be numeric, in parallel: a CSV column was parsed as the file streamed by (this only looks it up),
        // a column kept as strings is parsed here. Then they are checked in order.
        var parsedColumns = new (double[]? Numbers, int BadRow)[specs.Count];
        Parallel.For(0, specs.Count, i =>
        {
            var spec = specs[i];
            if (spec.Kind is null or FeatureKind.Numeric && table.IndexOf(spec.Name) >= 0)
                parsedColumns[i] = table.TryNumbers(spec.Name, out var parsed, out var bad) ? (parsed, -1) : (null, bad);
        });
        for (var i = 0; i < specs.Count; i++)
        {
            var spec = specs[i];
            if (table.IndexOf(spec.Name) < 0)
                throw new InvalidParameterValueException($"{file}: the feature column '{spec.Name}' (recipe field 'features') is not in the file; columns: {string.Join(", ", table.Names)}.");
            if (spec.Name is "Label" or "Features" or "PredictedLabel" or "Score" or "Probability")
                throw new InvalidParameterValueException($"{file}: the feature column '{spec.Name}' has a name ML.NET reserves for its own columns; rename it in the file.");
            // Numbers never become strings; a numeric column's strings are read again only for an error message or a text kind.
            var (numbers, badRow) = parsedColumns[i];
            if (numbers is not null ? Array.TrueForAll(numbers, double.IsNaN) : Array.TrueForAll(table[spec.Name], v => v is null))
                throw new InvalidParameterValueException($"{file}: the feature column '{spec.Name}' is empty in every row.");
            var kind = spec.Kind ?? (numbers is not null ? FeatureKind.Numeric : InferText(table[spec.Name]));
            if (kind == FeatureKind.Numeric)
            {
                if (numbers is null)
                    throw new InvalidParameterValueException($"{file}: column '{spec.Name}' is numeric but row {badRow + 1} holds '{table[spec.Name][badRow]}'; declare it 'categorical' or 'text' in the recipe's features, or fix the value.");
                batch.Add(spec.Name, numbers);
            }
            else
            {
                batch.Add(spec.Name, table[spec.Name]);
            }
            features.Add(new Feature(spec.Name, kind));
        }

        var labels = table[recipe.Label];
        if (Array.FindIndex(labels, l => l is null) is var missing and >= 0)
            throw new InvalidParameterValueException($"{file}: the label column '{recipe.Label}' is empty in row {missing + 1}; every row needs a label.");
        var distinct = labels.Distinct(StringComparer.Ordinal).Select(l => l!).ToList();
        IReadOnlyList<string> classes = [];
        switch (recipe.Task)
        {
            case MlTask.Binary:
                if (distinct.Count != 2)
                    throw new InvalidParameterValueException($"{file}: a binary task needs exactly 2 label values in '{recipe.Label}', found {distinct.Count} ({string.Join(", ", distinct.Take(5))}{(distinct.Count > 5 ? ", ..." : "")}); use task: multiclass.");
                classes = OrderBinary(distinct);
                break;
            case MlTask.Multiclass:
                if (distinct.Count < 2)
                    throw new InvalidParameterValueException($"{file}: a multiclass task needs at least 2 label values in '{recipe.Label}', found {distinct.Count}.");
                classes = distinct.Order(StringComparer.Ordinal).ToList();
                break;
            case MlTask.Regression:
                if (Array.FindIndex(labels, l => !CsvTable.TryNumber(l!, out _)) is var bad and >= 0)
                    throw new InvalidParameterValueException($"{file}: a regression label must be numeric, but '{recipe.Label}' holds '{labels[bad]}' in row {bad + 1}.");
                break;
        }
        return new TrainingData(table, features, batch, labels, classes, sha256);
    }

    /// <summary>Infers a kind: numbers are numeric; strings of several words are text; other strings are categorical.</summary>
    public static FeatureKind Infer(string?[] values) => CsvTable.IsNumeric(values) ? FeatureKind.Numeric : InferText(values);

    private static FeatureKind InferText(string?[] values)
    {
        var present = values.Where(v => v is not null).ToList();
        var words = present.Average(v => v!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        return words >= 3 ? FeatureKind.Text : FeatureKind.Categorical;
    }

    /// <summary>[negative, positive]: 1, true, yes and positive-sounding values are the positive class; otherwise the later one in ordinal order.</summary>
    private static List<string> OrderBinary(List<string> values)
    {
        static int Rank(string v) => v.ToLowerInvariant() switch
        {
            "1" or "1.0" or "true" or "yes" or "y" or "positive" or "pos" => 1,
            "0" or "0.0" or "false" or "no" or "n" or "negative" or "neg" or "-1" => -1,
            _ => 0,
        };
        var ordered = values.OrderBy(Rank).ThenBy(v => v, StringComparer.Ordinal).ToList();
        return ordered;
    }

    private Array? _labels;

    /// <summary>The label as the task needs it: bool (binary), the class string (multiclass) or float (regression).</summary>
    public Array LabelArray(MlTask task, IReadOnlyList<int>? rows = null)
    {
        // Converted once for all rows (parsing is the cost), then gathered for the rows asked for.
        var all = _labels is { } cached && ElementType(task) == cached.GetType().GetElementType() ? cached : _labels = task switch
        {
            MlTask.Binary => Array.ConvertAll(RawLabels, l => l == Classes[1]),
            MlTask.Multiclass => Array.ConvertAll(RawLabels, l => (l ?? "").AsMemory()),
            _ => Array.ConvertAll(RawLabels, l => (float)double.Parse(l!, NumberStyles.Float, CultureInfo.InvariantCulture)),
        };
        if (rows is null) return (Array)all.Clone();
        var result = Array.CreateInstance(all.GetType().GetElementType()!, rows.Count);
        switch (all)
        {
            case bool[] b:
                for (var i = 0; i < rows.Count; i++) ((bool[])result)[i] = b[rows[i]];
                break;
            case float[] f:
                for (var i = 0; i < rows.Count; i++) ((float[])result)[i] = f[rows[i]];
                break;
            case ReadOnlyMemory<char>[] m:
                for (var i = 0; i < rows.Count; i++) ((ReadOnlyMemory<char>[])result)[i] = m[rows[i]];
                break;
        }
        return result;

        static Type ElementType(MlTask task) => task switch
        {
            MlTask.Binary => typeof(bool),
            MlTask.Multiclass => typeof(ReadOnlyMemory<char>),
            _ => typeof(float),
        };
    }

    /// <summary>MLflow's column-spec types for the signature: double for numeric, string otherwise.</summary>
    public IReadOnlyList<ColumnSpec> Signature() =>
        Features.Select(f => new ColumnSpec(f.Name, f.Kind == FeatureKind.Numeric ? "double" : "string")).ToList();

    public static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
