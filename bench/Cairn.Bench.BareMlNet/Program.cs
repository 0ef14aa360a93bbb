using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

// A bare ML.NET program: load the CSV, split it the way `cairn train` does (row indexes shuffled with
// new Random(seed).Shuffle, the first round(n * test_fraction) held out), train the same trainer with the
// same settings (Cairn's defaults), evaluate, save model.zip. Prints one JSON line.
//   dotnet Cairn.Bench.BareMlNet.dll DATA.csv fasttree|lightgbm OUT.zip [seed] [test_fraction]
var clock = Stopwatch.StartNew();
var (path, trainer, output) = (args[0], args[1], args[2]);
var seed = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 42;
var testFraction = args.Length > 4 ? double.Parse(args[4], CultureInfo.InvariantCulture) : 0.2;

var header = File.ReadLines(path).First().Split(',');
var features = header[..^1];
var ml = new MLContext(seed);
var loader = ml.Data.CreateTextLoader(
    [new TextLoader.Column("Features", DataKind.Single, 0, features.Length - 1), new TextLoader.Column("Label", DataKind.Boolean, features.Length)],
    separatorChar: ',', hasHeader: true);
var all = ml.Data.CreateEnumerable<Row>(loader.Load(path), reuseRowObject: false).ToArray();

var order = Enumerable.Range(0, all.Length).ToArray();
new Random(seed).Shuffle(order);
var testCount = Math.Max(1, (int)Math.Round(all.Length * testFraction));
var schema = SchemaDefinition.Create(typeof(Row));
schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features.Length);
var test = ml.Data.LoadFromEnumerable(order[..testCount].Select(i => all[i]), schema);
var train = ml.Data.LoadFromEnumerable(order[testCount..].Select(i => all[i]), schema);

IEstimator<ITransformer> estimator = trainer switch
{
    "fasttree" => ml.BinaryClassification.Trainers.FastTree("Label", "Features", null, numberOfLeaves: 20, numberOfTrees: 100, minimumExampleCountPerLeaf: 10, learningRate: 0.2),
    "lightgbm" => ml.BinaryClassification.Trainers.LightGbm("Label", "Features", null, numberOfLeaves: 20, minimumExampleCountPerLeaf: 10, learningRate: null, numberOfIterations: 100),
    _ => throw new ArgumentException($"unknown trainer {trainer}"),
};
var loaded = clock.Elapsed.TotalSeconds;
var model = estimator.Fit(train);
var fitted = clock.Elapsed.TotalSeconds;
var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
ml.Model.Save(model, train.Schema, output);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"accuracy\": {metrics.Accuracy:R}, \"auc\": {metrics.AreaUnderRocCurve:R}, \"rows\": {all.Length}, \"test_rows\": {testCount}, \"load_seconds\": {loaded:F3}, \"fit_seconds\": {fitted - loaded:F3}, \"seconds\": {clock.Elapsed.TotalSeconds:F3}}}"));

internal sealed class Row
{
    public float[] Features { get; set; } = [];
    public bool Label { get; set; }
}
