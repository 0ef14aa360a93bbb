using System.Numerics;

namespace Cairn.Metrics;

/// <summary>
/// The held-out metrics of a regression model, defined as ML.NET's regression evaluator defines them (to the bit): the
/// targets are 32-bit floats as ML.NET reads labels, and R² comes from the sums of the targets and of their squares.
/// </summary>
/// <param name="Rmse">Root of the mean squared error; 0 with no row kept (as ML.NET has it).</param>
/// <param name="Mae">Mean absolute error; 0 with no row kept.</param>
/// <param name="R2">1 - (squared error) / (sum of squared deviations of the targets); NaN when the targets are constant (no variance to explain), 0 with no row kept.</param>
/// <param name="Count">The rows kept: those whose target and score are not NaN (an infinite score is kept, and makes the errors infinite).</param>
public sealed record RegressionMetrics(double Rmse, double Mae, double R2, int Count)
{
    /// <summary>Computes the metrics; rows whose target or score is NaN are left out, as ML.NET leaves them out.</summary>
    public static RegressionMetrics Evaluate(ReadOnlySpan<float> targets, ReadOnlySpan<float> scores) => Compute(targets, scores);

    /// <inheritdoc cref="Evaluate(ReadOnlySpan{float}, ReadOnlySpan{float})"/>
    public static RegressionMetrics Evaluate(ReadOnlySpan<float> targets, ReadOnlySpan<double> scores) => Compute(targets, scores);

    /// <summary>The metrics under the names Cairn logs them: rmse, mae, r2.</summary>
    public Dictionary<string, double> ToDictionary() => new(StringComparer.Ordinal)
    {
        ["rmse"] = Rmse,
        ["mae"] = Mae,
        ["r2"] = R2,
    };

    private static RegressionMetrics Compute<T>(ReadOnlySpan<float> targets, ReadOnlySpan<T> scores) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (scores.Length != targets.Length)
            throw new ArgumentException($"Regression metrics need one score per target: {targets.Length} targets, {scores.Length} scores.");
        double absolute = 0, squared = 0, sum = 0, sumOfSquares = 0;
        var count = 0;
        for (var i = 0; i < targets.Length; i++)
        {
            var target = targets[i];
            var score = double.CreateTruncating(scores[i]);
            if (float.IsNaN(target) || double.IsNaN(score)) continue;
            var error = Math.Abs((double)target - score);
            absolute += error;
            squared += error * error;
            sum += target;
            // A float product, as ML.NET's evaluator squares the label before adding it to its double sum.
            sumOfSquares += target * target;
            count++;
        }
        if (count == 0) return new RegressionMetrics(0, 0, 0, 0);
        var variance = sumOfSquares - sum * sum / count;
        return new RegressionMetrics(Math.Sqrt(squared / count), absolute / count, variance == 0 ? double.NaN : 1 - squared / variance, count);
    }
}
