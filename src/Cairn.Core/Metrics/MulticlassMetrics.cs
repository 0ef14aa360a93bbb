namespace Cairn.Metrics;

/// <summary>
/// The held-out metrics of a multiclass classifier, defined as ML.NET's multiclass evaluator defines them (to the bit).
/// Classes are numbered 0..k-1; a label of k or more is a class the model does not know (it counts as a miss, and its
/// log-loss as -ln(1e-15), as ML.NET penalizes it); a negative label is a row without a label, left out.
/// </summary>
/// <param name="MicroAccuracy">Rows whose label has the highest score (ties going to the lower class), over the rows kept; 0 with none.</param>
/// <param name="MacroAccuracy">The same per known class present among the labels, averaged over those classes; 0 with none.</param>
/// <param name="LogLoss">Mean of -ln(probability of the label), the probability clamped to [1e-15, 1] (natural log, as ML.NET reports it); null without scores.</param>
/// <param name="Count">The rows kept: those with a label and, when scores are given, only finite scores.</param>
public sealed record MulticlassMetrics(double MicroAccuracy, double MacroAccuracy, double? LogLoss, int Count)
{
    /// <summary>ML.NET's floor on the label's probability for the log-loss (a float, as ML.NET holds it).</summary>
    private const float Epsilon = (float)1e-15;

    /// <summary>
    /// Computes the metrics from each row's scores (<paramref name="scores"/>: <paramref name="classCount"/> per row, row
    /// after row, read as probabilities for the log-loss). Rows with a NaN or infinite score are left out, as ML.NET leaves them out.
    /// </summary>
    public static MulticlassMetrics Evaluate(ReadOnlySpan<int> labels, ReadOnlySpan<float> scores, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (scores.Length != (long)labels.Length * classCount)
            throw new ArgumentException($"Multiclass metrics need {classCount} scores per label: {labels.Length} labels, {scores.Length} scores.");
        var counters = new Counters(classCount);
        for (var row = 0; row < labels.Length; row++)
        {
            var label = labels[row];
            if (label < 0) continue;
            var rowScores = scores.Slice(row * classCount, classCount);
            var finite = true;
            foreach (var s in rowScores) finite &= float.IsFinite(s);
            if (!finite) continue;
            var known = label < classCount;
            var logLoss = known ? -Math.Log(Math.Min(1, Math.Max(Epsilon, rowScores[label]))) : -Math.Log(Epsilon);
            var correct = known ? rowScores[label] : 0;
            // The label's rank among the classes by score, ties ranked by class number: a hit when nothing ranks above it.
            var rank = 0;
            for (var c = 0; c < classCount; c++)
                if (rowScores[c] > correct || (rowScores[c] == correct && c < label)) rank++;
            counters.Add(label, known && rank == 0, logLoss);
        }
        return counters.Metrics(withLogLoss: true);
    }

    /// <summary>
    /// Computes the accuracies from predicted classes alone, for a model that gives no scores (no log-loss then): a row
    /// is correct when its predicted class is its label; a prediction outside 0..k-1 is a miss.
    /// </summary>
    public static MulticlassMetrics FromPredictions(ReadOnlySpan<int> labels, ReadOnlySpan<int> predicted, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (predicted.Length != labels.Length)
            throw new ArgumentException($"Multiclass metrics need one prediction per label: {labels.Length} labels, {predicted.Length} predictions.");
        var counters = new Counters(classCount);
        for (var row = 0; row < labels.Length; row++)
        {
            if (labels[row] < 0) continue;
            var label = labels[row];
            counters.Add(label, label < classCount && predicted[row] == label, 0);
        }
        return counters.Metrics(withLogLoss: false);
    }

    /// <summary>The metrics under the names Cairn logs them: micro_accuracy, macro_accuracy and, with scores, log_loss.</summary>
    public Dictionary<string, double> ToDictionary()
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal) { ["micro_accuracy"] = MicroAccuracy, ["macro_accuracy"] = MacroAccuracy };
        if (LogLoss is { } logLoss) metrics["log_loss"] = logLoss;
        return metrics;
    }

    /// <summary>ML.NET's unweighted counters: rows, hits, rows and hits per known class, and the summed log-loss.</summary>
    private sealed class Counters(int classCount)
    {
        private readonly double[] _rowsOfClass = new double[classCount];
        private readonly double[] _hitsOfClass = new double[classCount];
        private double _rows, _hits, _logLoss;

        public void Add(int label, bool hit, double logLoss)
        {
            _rows += 1;
            if (label < classCount) _rowsOfClass[label] += 1;
            _logLoss += logLoss;
            if (!hit) return;
            _hits += 1;
            _hitsOfClass[label] += 1;
        }

        public MulticlassMetrics Metrics(bool withLogLoss)
        {
            double macro = 0;
            var present = 0;
            for (var c = 0; c < classCount; c++)
            {
                if (_rowsOfClass[c] <= 0) continue;
                present++;
                macro += _hitsOfClass[c] / _rowsOfClass[c];
            }
            return new MulticlassMetrics(
                MicroAccuracy: _rows > 0 ? _hits / _rows : 0,
                MacroAccuracy: _rows == 0 || present == 0 ? 0 : macro / present,
                LogLoss: withLogLoss ? (_rows > 0 ? _logLoss / _rows : 0) : null,
                Count: (int)_rows);
        }
    }
}
