namespace Cairn.Metrics;

/// <summary>
/// Ranking metrics and curves of a binary classifier's scores: the AUC as ML.NET's evaluator computes it, the ROC and
/// precision-recall points, and average precision as scikit-learn defines it (ML.NET has no such metric).
/// </summary>
public static class BinaryCurves
{
    /// <summary>
    /// The area under the ROC curve: the probability that a positive row outscores a negative one, ties counting half
    /// (ML.NET's unweighted AUC, equal to the bit). NaN when there is no positive or no negative row, where ML.NET refuses.
    /// The positives' and the negatives' scores are sorted apart and merged, which is cheaper than sorting all rows with
    /// their labels (this runs once per point of a learning curve and once per permutation block).
    /// </summary>
    public static double Auc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        CheckLengths(scores.Length, labels.Length);
        var positiveCount = 0;
        foreach (var label in labels) if (label) positiveCount++;
        if (positiveCount == 0 || positiveCount == labels.Length) return double.NaN;
        var positives = new double[positiveCount];
        var negatives = new double[labels.Length - positiveCount];
        for (int i = 0, p = 0, n = 0; i < labels.Length; i++)
        {
            if (labels[i]) positives[p++] = scores[i];
            else negatives[n++] = scores[i];
        }
        ScoreSort.Sort(positives);
        ScoreSort.Sort(negatives);
        // For each positive, the negatives below it count 1 and the negatives equal to it count half (twice, to stay integral).
        long twiceWins = 0;
        int below = 0, notAbove = 0;
        foreach (var score in positives)
        {
            while (below < negatives.Length && negatives[below] < score) below++;
            if (notAbove < below) notAbove = below;
            while (notAbove < negatives.Length && negatives[notAbove] == score) notAbove++;
            twiceWins += below + notAbove;
        }
        return twiceWins / (2.0 * positives.Length * negatives.Length);
    }

    /// <summary>
    /// Average precision, scikit-learn's <c>average_precision_score</c>: the sum over the distinct scores, from the highest
    /// down, of (recall gained there) x (precision there), without interpolation; tied rows enter together. NaN when there
    /// is no positive row, or a score is NaN (scikit-learn refuses both).
    /// </summary>
    public static double AveragePrecision(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        CheckLengths(scores.Length, labels.Length);
        if (!labels.Contains(true)) return double.NaN;
        foreach (var score in scores) if (double.IsNaN(score)) return double.NaN;
        var (recall, precision) = PrecisionRecall(scores, labels);
        double sum = 0;
        for (var i = 1; i < recall.Length; i++) sum += (recall[i] - recall[i - 1]) * precision[i];
        return sum;
    }

    /// <summary>
    /// The precision-recall points, one per distinct score from the highest down (tied rows enter together), starting at
    /// recall 0 with the precision of the first threshold.
    /// </summary>
    public static (double[] Recall, double[] Precision) PrecisionRecall(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        CheckLengths(scores.Length, labels.Length);
        var order = Descending(scores);
        double positives = labels.Count(true);
        var recall = new List<double>();
        var precision = new List<double>();
        double tp = 0, seen = 0;
        for (var k = 0; k < order.Length; k++)
        {
            seen++;
            if (labels[order[k]]) tp++;
            if (k + 1 < order.Length && scores[order[k + 1]] == scores[order[k]]) continue;
            recall.Add(positives == 0 ? 0 : tp / positives);
            precision.Add(tp / seen);
        }
        if (precision.Count > 0)
        {
            recall.Insert(0, 0);
            precision.Insert(0, precision[0]);
        }
        return (recall.ToArray(), precision.ToArray());
    }

    /// <summary>The ROC points (false and true positive rates), from (0, 0) and the highest score down, tied rows as one step.</summary>
    public static (double[] Fpr, double[] Tpr) Roc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        CheckLengths(scores.Length, labels.Length);
        var order = Descending(scores);
        double positives = labels.Count(true), negatives = labels.Length - positives;
        var fpr = new List<double> { 0 };
        var tpr = new List<double> { 0 };
        double tp = 0, fp = 0;
        for (var k = 0; k < order.Length; k++)
        {
            if (labels[order[k]]) tp++; else fp++;
            if (k + 1 < order.Length && scores[order[k + 1]] == scores[order[k]]) continue;
            fpr.Add(negatives == 0 ? 0 : fp / negatives);
            tpr.Add(positives == 0 ? 0 : tp / positives);
        }
        return (fpr.ToArray(), tpr.ToArray());
    }

    /// <summary>
    /// Row indexes by score, highest first (NaN last). The order among equal scores is left open: the curves count a run
    /// of equal scores as one step.
    /// </summary>
    private static int[] Descending(ReadOnlySpan<double> scores)
    {
        var keys = scores.ToArray();
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(keys, order);
        Array.Reverse(order);
        return order;
    }

    private static void CheckLengths(int scores, int labels)
    {
        if (scores != labels) throw new ArgumentException($"One score per label is needed: {labels} labels, {scores} scores.");
    }
}
