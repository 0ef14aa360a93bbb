using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>
/// The featurizer a recipe's model starts with: missing numbers replaced, categorical columns one-hot encoded, text
/// featurized, all concatenated into <c>Features</c>, normalized for linear trainers; and what the fast paths need to know
/// of it (which slots each feature fills, whether it only replaces numbers).
/// </summary>
internal static class Featurizer
{
    /// <summary>
    /// The featurizer: missing numbers replaced by the column mean, categorical columns one-hot encoded, text featurized,
    /// all concatenated into <c>Features</c> (in <see cref="FeatureColumns"/> order), min-max normalized for linear trainers.
    /// </summary>
    internal static IEstimator<ITransformer> Estimator(MLContext ml, Recipe recipe, TrainingData data)
    {
        IEstimator<ITransformer> pipeline = new EstimatorChain<ITransformer>();
        var columns = FeatureColumns(data);
        var numeric = columns.Where(c => data.Features[c.Feature].Kind == FeatureKind.Numeric).Select(c => new InputOutputColumnPair(c.Column, c.Column)).ToArray();
        if (numeric.Length > 0) pipeline = pipeline.Append(ml.Transforms.ReplaceMissingValues(numeric));
        foreach (var (feature, column) in columns)
        {
            var name = data.Features[feature].Name;
            if (data.Features[feature].Kind == FeatureKind.Categorical) pipeline = pipeline.Append(ml.Transforms.Categorical.OneHotEncoding(column, name));
            else if (data.Features[feature].Kind == FeatureKind.Text) pipeline = pipeline.Append(ml.Transforms.Text.FeaturizeText(column, name));
        }
        pipeline = pipeline.Append(ml.Transforms.Concatenate("Features", columns.Select(c => c.Column).ToArray()));
        if (TrainerCatalog.NeedsNormalization(recipe.Trainer)) pipeline = pipeline.Append(ml.Transforms.NormalizeMinMax("Features"));
        return pipeline;
    }

    /// <summary>
    /// The columns the featurizer concatenates into <c>Features</c>, in order, each with the index of the recipe feature it
    /// encodes: numeric columns first, then the one-hot categorical ones, then the featurized text.
    /// </summary>
    private static List<(int Feature, string Column)> FeatureColumns(TrainingData data)
    {
        var columns = new List<(int Feature, string Column)>();
        foreach (var (kind, suffix) in new[] { (FeatureKind.Numeric, ""), (FeatureKind.Categorical, ".onehot"), (FeatureKind.Text, ".text") })
            for (var i = 0; i < data.Features.Count; i++)
                if (data.Features[i].Kind == kind) columns.Add((i, data.Features[i].Name + suffix));
        return columns;
    }

    /// <summary>
    /// Where each recipe feature's values sit in the <c>Features</c> vector of the featurizer's output schema <paramref name="featurized"/> (start, length),
    /// by recipe feature index; null when the sizes cannot be read or do not add up to the vector's size.
    /// </summary>
    internal static (int Start, int Length)[]? FeatureSlots(DataViewSchema featurized, TrainingData data)
    {
        var slots = new (int Start, int Length)[data.Features.Count];
        var start = 0;
        foreach (var (feature, column) in FeatureColumns(data))
        {
            var length = featurized.GetColumnOrNull(column) is { } c ? Width(c.Type) : 0;
            if (length <= 0) return null;
            slots[feature] = (start, length);
            start += length;
        }
        return Width(featurized["Features"].Type) == start ? slots : null;

        static int Width(DataViewType type) => type switch
        {
            VectorDataViewType vector => vector.Size,
            PrimitiveDataViewType => 1,
            _ => 0,
        };
    }

    /// <summary>Whether the featurizer only replaces missing numbers and concatenates them: every feature numeric, no normalizer.</summary>
    internal static bool NumbersOnly(Recipe recipe, TrainingData data) =>
        data.Features.All(f => f.Kind == FeatureKind.Numeric) && !TrainerCatalog.NeedsNormalization(recipe.Trainer);

    /// <summary>The model's input: each feature as ML.NET reads it (numeric as float, others as text).</summary>
    internal static DataViewSchema InputSchema(TrainingData data)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var feature in data.Features)
            builder.AddColumn(feature.Name, feature.Kind == FeatureKind.Numeric ? NumberDataViewType.Single : TextDataViewType.Instance);
        return builder.ToSchema();
    }
}
