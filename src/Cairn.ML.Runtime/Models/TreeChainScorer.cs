using Microsoft.ML;
using Microsoft.ML.Calibrators;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;

namespace Cairn.ML.Models;

/// <summary>
/// Scores batches of an ML.NET chain that ends in a tree ensemble (FastTree, LightGbm or FastForest, binary or regression)
/// by walking the ensemble's trees (<see cref="TreeEnsemble"/>) over a dense matrix of feature vectors, rows split across
/// cores, instead of ML.NET's scorer row by row. The feature vectors come straight from the batch's columns when the
/// featurization is one concatenation of float columns (what the serve bench and most hand-built chains do), otherwise
/// from the chain's own featurization run once over the batch. Probabilities go through the model's own calibrator, the
/// label through the prediction transformer's threshold. The outputs equal ML.NET's (the tests compare them on trained
/// models of each kind). A chain it does not understand gets no scorer; a batch with a missing feature value (NaN, which
/// LightGbm routes by its own rule) is left to ML.NET.
/// </summary>
internal sealed class TreeChainScorer
{
    /// <summary>Rows per parallel chunk: a batch smaller than two chunks is scored on the calling thread.</summary>
    private const int ChunkRows = 2048;

    /// <summary>Fewest rows worth running the chain's featurization over a view (smaller batches go through ML.NET's row engines).</summary>
    private const int MinFeaturizedRows = 32;

    private readonly TreeEnsemble _ensemble;
    private readonly bool _mean;
    private readonly ICalibrator? _calibrator;
    private readonly float _threshold;
    private readonly bool _thresholdOnProbability;
    private readonly string[] _outputs;
    private readonly string[]? _concatenated;
    private readonly ITransformer? _featurizer;
    private readonly string _featureColumn;
    private readonly int _width;

    private TreeChainScorer(TreeEnsemble ensemble, bool mean, ICalibrator? calibrator, float threshold, bool thresholdOnProbability,
        string[] outputs, string[]? concatenated, ITransformer? featurizer, string featureColumn, int width)
    {
        _ensemble = ensemble;
        _mean = mean;
        _calibrator = calibrator;
        _threshold = threshold;
        _thresholdOnProbability = thresholdOnProbability;
        _outputs = outputs;
        _concatenated = concatenated;
        _featurizer = featurizer;
        _featureColumn = featureColumn;
        _width = width;
    }

    /// <summary>True when the feature vectors are the batch's own float columns side by side (no ML.NET work per row at all).</summary>
    public bool Direct => _concatenated is not null;

    /// <summary>
    /// The scorer of <paramref name="model"/> read on <paramref name="inputSchema"/> for the output columns
    /// <paramref name="outputs"/>; null when the chain is not one this understands (it then scores through ML.NET).
    /// </summary>
    public static TreeChainScorer? TryCreate(ITransformer model, DataViewSchema inputSchema, IReadOnlyList<DataViewSchema.Column> outputs)
    {
        var chain = TreeEnsemble.Flatten(model).ToList();
        // A calibrator fitted after the trainer (FastForest's binary models have none of their own) adds the probability.
        ICalibrator? calibrator = null;
        if (chain.Count > 1 && chain[^1] is IPredictionTransformer<object> { Model: ICalibrator appended })
        {
            calibrator = appended;
            chain.RemoveAt(chain.Count - 1);
        }
        if (chain.Count == 0 || chain[^1] is not ISingleFeaturePredictionTransformer<object> last) return null;
        var predictorType = last.GetType();
        if (!predictorType.IsGenericType) return null;
        var kind = predictorType.GetGenericTypeDefinition();
        var binary = kind == typeof(BinaryPredictionTransformer<>);
        if (!binary && kind != typeof(RegressionPredictionTransformer<>) || !binary && calibrator is not null) return null;

        // The model parameters whose Score ML.NET computes as the sum of the trees (boosting) or their mean (forests).
        var parameters = last.Model;
        if (parameters.GetType().GetProperties().FirstOrDefault(p => p.Name == "Calibrator")?.GetValue(parameters) is { } found)
        {
            if (found is not ICalibrator usable || calibrator is not null) return null;
            calibrator = usable;
            parameters = parameters.GetType().GetProperties().First(p => p.Name == "SubModel").GetValue(parameters)!;
        }
        // Only the trainers whose Score is the plain tree sum or mean (FastTree's Tweedie and ranking models transform it).
        if (parameters is not (FastTreeBinaryModelParameters or FastTreeRegressionModelParameters or LightGbmBinaryModelParameters
            or LightGbmRegressionModelParameters or FastForestBinaryModelParameters or FastForestRegressionModelParameters)) return null;
        // FastForest's regression model divides the tree sum by the tree count; its binary model, like boosting, does not.
        var mean = parameters is FastForestRegressionModelParameters;
        if (TreeEnsemble.FromParameters(parameters) is not { } ensemble || mean && ensemble.Bias != 0) return null;

        var names = outputs.Select(c => c.Name).ToArray();
        if (names.Any(n => n is not ("Score" or "Probability" or "PredictedLabel"))) return null;
        if (names.Contains("Probability") && calibrator is null) return null;
        if (!binary && names.Any(n => n != "Score")) return null;
        var threshold = 0f;
        var onProbability = false;
        if (binary)
        {
            const System.Reflection.BindingFlags fields = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
            if (predictorType.GetField("Threshold", fields)?.GetValue(last) is not float cut
                || predictorType.GetField("ThresholdColumn", fields)?.GetValue(last) is not string column) return null;
            threshold = cut;
            if (column is not ("Score" or "Probability") || column == "Probability" && calibrator is null) return null;
            onProbability = column == "Probability";
        }

        // The featurization: everything before the predictor, ending in a known-size float vector the trees read.
        var featureColumn = last.FeatureColumnName;
        var featurizer = chain.Count == 1 ? null : new TransformerChain<ITransformer>([.. chain.Take(chain.Count - 1)]);
        var featureSchema = featurizer is null ? inputSchema : featurizer.GetOutputSchema(inputSchema);
        if (featureSchema.GetColumnOrNull(featureColumn) is not { Type: VectorDataViewType { IsKnownSize: true, Size: var width } vector }
            || vector.ItemType != NumberDataViewType.Single || width <= ensemble.MaxSlot) return null;
        var concatenated = featurizer is not null && chain.Count == 2 && chain[0] is ColumnConcatenatingTransformer ? Concatenated(featurizer, featureColumn, inputSchema, width) : null;
        return new TreeChainScorer(ensemble, mean, calibrator, threshold, onProbability, names, concatenated, featurizer, featureColumn, width);
    }

    /// <summary>
    /// The input columns a lone concatenation lays side by side as the feature vector, when they are all float scalars;
    /// else null. ML.NET does not expose the concatenation's sources, so they are read from the vector's slot names and
    /// then proven: two rows of distinct values go through the featurizer, and each slot must hold its column's value.
    /// </summary>
    private static string[]? Concatenated(ITransformer featurizer, string featureColumn, DataViewSchema inputSchema, int width)
    {
        var column = featurizer.GetOutputSchema(inputSchema)[featureColumn];
        if (!column.HasSlotNames()) return null;
        VBuffer<ReadOnlyMemory<char>> slotNames = default;
        column.GetSlotNames(ref slotNames);
        var names = slotNames.DenseValues().Select(n => n.ToString()).ToArray();
        if (names.Length != width) return null;
        if (names.Any(n => inputSchema.GetColumnOrNull(n) is not { Type: var type } || type != NumberDataViewType.Single)) return null;

        const int rows = 2;
        var probe = new List<(string, DataViewType, Array)>();
        foreach (var input in inputSchema)
        {
            Array values = input.Type switch
            {
                NumberDataViewType number when number == NumberDataViewType.Single => new[] { input.Index * 2 + 1f, input.Index * 2 + 2f },
                TextDataViewType => new ReadOnlyMemory<char>[rows],
                BooleanDataViewType => new bool[rows],
                _ => Array.Empty<float>(),
            };
            if (values.Length != rows) return null;
            probe.Add((input.Name, input.Type, values));
        }
        var featured = featurizer.Transform(new ColumnDataView(probe));
        using var cursor = featured.GetRowCursor([featured.Schema[featureColumn]]);
        var getter = cursor.GetGetter<VBuffer<float>>(featured.Schema[featureColumn]);
        VBuffer<float> vector = default;
        for (var row = 0; row < rows; row++)
        {
            if (!cursor.MoveNext()) return null;
            getter(ref vector);
            var values = vector.DenseValues().ToArray();
            for (var slot = 0; slot < width; slot++)
                if (values[slot] != inputSchema[names[slot]].Index * 2 + 1f + row) return null;
        }
        return names;
    }

    /// <summary>
    /// Scores <paramref name="input"/>; null when the batch has a missing feature value (ML.NET then scores it).
    /// <paramref name="toDataView"/> builds the chain's input view for a featurization that is not a plain concatenation.
    /// </summary>
    public ColumnBatch? TryScore(ColumnBatch input, Func<ColumnBatch, IDataView> toDataView)
    {
        var rows = input.RowCount;
        // Building a view and a cursor costs more than a few rows through the pooled row engines.
        if (_concatenated is null && rows < MinFeaturizedRows) return null;
        var matrix = _concatenated is not null ? Stack(input, _concatenated, rows) : Featurize(toDataView(input), rows);
        if (matrix is null) return null;
        var scores = new float[rows];
        if (rows < 2 * ChunkRows) Walk(matrix, scores, 0, rows);
        else Parallel.For(0, (rows + ChunkRows - 1) / ChunkRows, chunk => Walk(matrix, scores, chunk * ChunkRows, Math.Min(rows, (chunk + 1) * ChunkRows)));
        float[]? probabilities = null;
        if (_calibrator is not null && (_thresholdOnProbability || _outputs.Contains("Probability")))
        {
            probabilities = new float[rows];
            for (var r = 0; r < rows; r++) probabilities[r] = _calibrator.PredictProbability(scores[r]);
        }
        var result = new ColumnBatch();
        foreach (var name in _outputs)
        {
            switch (name)
            {
                case "Score":
                    result.Add(name, scores);
                    break;
                case "Probability":
                    result.Add(name, probabilities!);
                    break;
                default:
                    var decided = _thresholdOnProbability ? probabilities! : scores;
                    var labels = new bool[rows];
                    for (var r = 0; r < rows; r++) labels[r] = decided[r] > _threshold;
                    result.Add(name, labels);
                    break;
            }
        }
        return result;
    }

    /// <summary>
    /// Scores rows [<paramref name="from"/>, <paramref name="to"/>) in blocks: each tree in turn over the block's rows (its
    /// nodes stay in cache), each row's tree outputs added in tree order, as ML.NET adds them.
    /// </summary>
    private void Walk(float[] matrix, float[] scores, int from, int to)
    {
        const int block = 256;
        var trees = _ensemble.Trees;
        var weights = _ensemble.Weights;
        Span<double> sums = stackalloc double[block];
        for (var start = from; start < to; start += block)
        {
            var rows = Math.Min(block, to - start);
            var part = sums[..rows];
            part.Clear();
            var features = new ReadOnlySpan<float>(matrix, start * _width, rows * _width);
            for (var t = 0; t < trees.Length; t++) trees[t].Accumulate(features, _width, rows, part, weights[t]);
            for (var r = 0; r < rows; r++)
            {
                // As ML.NET's model parameters map: the double sum to float, for a forest's regression divided by the tree count in float.
                scores[start + r] = _mean ? (float)part[r] / trees.Length : (float)(_ensemble.Bias + part[r]);
            }
        }
    }

    /// <summary>The batch's float columns as a row-major matrix; null when a value is missing (NaN).</summary>
    private float[]? Stack(ColumnBatch input, string[] columns, int rows)
    {
        var matrix = new float[rows * _width];
        for (var c = 0; c < columns.Length; c++)
        {
            var values = (float[])ColumnDataView.Convert(input, columns[c], NumberDataViewType.Single);
            for (var r = 0; r < rows; r++)
            {
                var v = values[r];
                if (float.IsNaN(v)) return null;
                matrix[r * _width + c] = v;
            }
        }
        return matrix;
    }

    /// <summary>The chain's feature vectors of every row, through its own featurization, as a row-major matrix; null when a value is missing.</summary>
    private float[]? Featurize(IDataView view, int rows)
    {
        var featured = _featurizer?.Transform(view) ?? view;
        var column = featured.Schema[_featureColumn];
        var matrix = new float[rows * _width];
        using var cursor = featured.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        var row = 0;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            var target = matrix.AsSpan(row * _width, _width);
            buffer.CopyTo(target);
            if (HasNaN(target)) return null;
            row++;
        }
        return matrix;
    }

    private static bool HasNaN(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
            if (float.IsNaN(v)) return true;
        return false;
    }
}
