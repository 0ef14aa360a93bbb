using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>
/// The held-out rows of a binary or regression model as read in one cursor pass over the scored view: labels (or
/// targets), scores, probabilities and predicted labels (binary), and optionally the feature vectors.
/// </summary>
internal sealed class HeldOut
{
    public bool[]? BinaryLabels { get; private init; }
    public float[]? Targets { get; private init; }
    public required float[] Scores { get; init; }
    public float[] Probabilities { get; private init; } = [];
    public bool[] Predicted { get; private init; } = [];
    public FeatureRows? Features { get; private init; }

    /// <summary>Whether <see cref="FromScores"/> can finish a model's scores: regression, or a binary model with a calibrator.</summary>
    public static bool Calibrated(ITransformer predictor, MlTask task) => task == MlTask.Regression || Calibrator(predictor) is not null;

    private static Microsoft.ML.Calibrators.ICalibrator? Calibrator(ITransformer predictor)
    {
        var parameters = (predictor as IPredictionTransformer<object>)?.Model;
        return parameters?.GetType().GetProperties()
            .FirstOrDefault(p => p.Name == "Calibrator" && typeof(Microsoft.ML.Calibrators.ICalibrator).IsAssignableFrom(p.PropertyType))
            ?.GetValue(parameters) as Microsoft.ML.Calibrators.ICalibrator;
    }

    /// <summary>
    /// The held-out rows from a boosted tree model's walked scores (<paramref name="walked"/>, doubles as the trees sum them):
    /// Score as ML.NET's scorer writes it (that sum as a float), Probability from the model's own calibrator,
    /// PredictedLabel where Score is above 0 (ML.NET's default threshold).
    /// </summary>
    public static HeldOut FromScores(ITransformer predictor, double[] walked, DenseRows rows, MlTask task)
    {
        var calibrator = task == MlTask.Binary ? Calibrator(predictor) : null;
        var count = walked.Length;
        var scores = new float[count];
        var probabilities = calibrator is null ? [] : new float[count];
        var predicted = calibrator is null ? [] : new bool[count];
        Parallel.For(0, (count + 4095) / 4096, chunk =>
        {
            for (var i = chunk * 4096; i < Math.Min(count, (chunk + 1) * 4096); i++)
            {
                var score = (float)walked[i];
                scores[i] = score;
                if (calibrator is null) continue;
                probabilities[i] = calibrator.PredictProbability(score);
                predicted[i] = score > 0;
            }
        });
        return new HeldOut
        {
            BinaryLabels = rows.Labels as bool[],
            Targets = rows.Labels as float[],
            Scores = scores,
            Probabilities = probabilities,
            Predicted = predicted,
        };
    }

    public static HeldOut Read(IDataView scored, MlTask task, bool withFeatures)
    {
        var binary = task == MlTask.Binary;
        var names = new List<string> { "Label", "Score" };
        if (binary) names.AddRange(["Probability", "PredictedLabel"]);
        if (withFeatures) names.Add("Features");
        var capacity = (int)(scored.GetRowCount() ?? 0);
        var (boolLabels, floatLabels, scores, probabilities, predicted) =
            (new List<bool>(capacity), new List<float>(capacity), new List<float>(capacity), new List<float>(capacity), new List<bool>(capacity));
        var width = withFeatures && scored.Schema["Features"].Type is VectorDataViewType { Size: > 0 and var size } ? size : 0;
        var features = new float[(long)capacity * width];
        var row = 0;
        using var cursor = scored.GetRowCursor(names.Select(n => scored.Schema[n]));
        var getScore = cursor.GetGetter<float>(scored.Schema["Score"]);
        var getBoolLabel = binary ? cursor.GetGetter<bool>(scored.Schema["Label"]) : null;
        var getFloatLabel = binary ? null : cursor.GetGetter<float>(scored.Schema["Label"]);
        var getProbability = binary ? cursor.GetGetter<float>(scored.Schema["Probability"]) : null;
        var getPredicted = binary ? cursor.GetGetter<bool>(scored.Schema["PredictedLabel"]) : null;
        var getFeatures = withFeatures ? cursor.GetGetter<VBuffer<float>>(scored.Schema["Features"]) : null;
        bool b = default;
        float f = default;
        VBuffer<float> vector = default;
        while (cursor.MoveNext())
        {
            getScore(ref f);
            scores.Add(f);
            if (binary)
            {
                getBoolLabel!(ref b);
                boolLabels.Add(b);
                getProbability!(ref f);
                probabilities.Add(f);
                getPredicted!(ref b);
                predicted.Add(b);
            }
            else
            {
                getFloatLabel!(ref f);
                floatLabels.Add(f);
            }
            if (getFeatures is not null && width > 0)
            {
                getFeatures(ref vector);
                if ((long)(row + 1) * width > features.Length) Array.Resize(ref features, Math.Max(features.Length * 2, (row + 1) * width));
                vector.CopyTo(new Span<float>(features, row * width, width));
            }
            row++;
        }
        return new HeldOut
        {
            BinaryLabels = binary ? [.. boolLabels] : null,
            Targets = binary ? null : [.. floatLabels],
            Scores = [.. scores],
            Probabilities = [.. probabilities],
            Predicted = [.. predicted],
            Features = width > 0 ? new FeatureRows(features.Length == row * width ? features : features[..(row * width)], width) : null,
        };
    }
}
