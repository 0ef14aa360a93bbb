using Cairn.ML.Models;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Cairn.ML.Training;

/// <summary>Fits the featurizer and the recipe's trainer into one chain, computing the trainer's input once (see <see cref="Fit"/>).</summary>
internal static class ChainFitter
{
    /// <summary>At most this many feature values (rows x slots) are put into a matrix for the trainer (128 MB of floats); more go the plain way.</summary>
    private const long MaxMaterializedValues = 32_000_000;

    /// <summary>
    /// A fitted featurizer and trainer (<see cref="Chain"/> is the two as one model); <see cref="Replacements"/>, when the
    /// featurizer only replaces missing numbers and concatenates them, holds the value each slot takes when missing, so
    /// feature vectors can be built straight from the data (<see cref="DenseRows"/>).
    /// </summary>
    internal sealed class FittedChain(ITransformer featurizer, ITransformer predictor, float[]? replacements)
    {
        public ITransformer Featurizer { get; } = featurizer;

        public ITransformer Predictor { get; } = predictor;

        public float[]? Replacements { get; } = replacements;

        public ITransformer Chain { get; } = featurizer.Append(predictor);
    }

    /// <summary>
    /// Fits the featurizer (<see cref="Featurizer.Estimator"/>) and then the recipe's trainer on its output: the model
    /// <c>featurizer.Append(trainer).Fit(view)</c> gives. The trainers read their input several times (bin boundaries, then
    /// the rows), and each read of the featurizer's output runs its transforms for every row again; so the feature vectors
    /// are computed once into a dense matrix the trainer reads: straight from the data when every feature is numeric (the
    /// featurizer then only replaces missing values, with values read from it, and when the training rows have none to
    /// replace it is fitted beside the trainer instead of before it), otherwise by one pass over its output when they fit
    /// in memory. Multiclass labels are keys whose values the chain needs later, so those take the direct path.
    /// </summary>
    internal static FittedChain Fit(MLContext ml, Recipe recipe, TrainingData data, Lazy<IDataView> trainView, int[] trainRows, bool materialize)
    {
        // The trainer gets an ML.NET context of its own: ML.NET seeds each component from its context's random source in
        // the order they are created and fitted, so with a shared one the model would depend on how much the featurizer
        // drew before it, or, fitted beside it, on which thread drew first. With its own, the recipe's seed alone decides.
        var trainer = TrainerCatalog.Create(new MLContext(recipe.Seed), recipe);
        var dense = materialize && recipe.Task != MlTask.Multiclass && (long)trainRows.Length * data.Features.Count <= MaxMaterializedValues && Featurizer.NumbersOnly(recipe, data);
        if (dense && !data.AnyMissingNumber)
        {
            // Nothing to replace: the matrix is the data as it is, and the featurizer (for the saved chain and for held-out
            // rows with missing values) is fitted while the trainer reads it.
            var featurizing = Task.Run(() => Featurizer.Estimator(ml, recipe, data).Fit(trainView.Value));
            ITransformer predictor;
            try
            {
                predictor = trainer.Fit(DenseRows.Build(data, recipe.Task, trainRows, null).View());
            }
            catch
            {
                Task.WaitAny(featurizing); // let it end before the failure goes up; the trainer's error is the one to report
                throw;
            }
            var fitted = featurizing.GetAwaiter().GetResult();
            return new FittedChain(fitted, predictor, NumericReplacements(fitted, recipe, data));
        }
        var features = Featurizer.Estimator(ml, recipe, data).Fit(trainView.Value);
        if (dense && NumericReplacements(features, recipe, data) is { } replacements)
            return new FittedChain(features, trainer.Fit(DenseRows.Build(data, recipe.Task, trainRows, replacements).View()), replacements);
        var featurized = features.Transform(trainView.Value);
        if (!materialize || recipe.Task == MlTask.Multiclass || featurized.Schema["Features"].Type is not VectorDataViewType { Size: > 0 and var size, ItemType: var item }
            || item != NumberDataViewType.Single || (long)trainRows.Length * size > MaxMaterializedValues)
            return new FittedChain(features, trainer.Fit(featurized), null);
        var matrix = new float[(long)trainRows.Length * size];
        using (var cursor = featurized.GetRowCursor([featurized.Schema["Features"]]))
        {
            var getFeatures = cursor.GetGetter<VBuffer<float>>(featurized.Schema["Features"]);
            VBuffer<float> vector = default;
            for (var row = 0; cursor.MoveNext(); row++)
            {
                getFeatures(ref vector);
                vector.CopyTo(new Span<float>(matrix, row * size, size));
            }
        }
        // The view's rows are trainRows in order, so its labels are the data's.
        return new FittedChain(features, trainer.Fit(new DenseRows(new FeatureRows(matrix, size), data.LabelArray(recipe.Task, trainRows), recipe.Task).View()), null);
    }

    /// <summary>
    /// For a featurizer that only replaces missing numbers and concatenates them (every feature numeric, no normalizer),
    /// the value each slot gets when missing: one row of missing values run through the fitted featurizer. Null otherwise.
    /// </summary>
    internal static float[]? NumericReplacements(ITransformer featurizer, Recipe recipe, TrainingData data)
    {
        if (!Featurizer.NumbersOnly(recipe, data)) return null;
        var missing = new ColumnDataView(data.Features.Select(f => (f.Name, (DataViewType)NumberDataViewType.Single, (Array)new[] { float.NaN })).ToList());
        var vector = featurizer.Transform(missing).GetColumn<VBuffer<float>>("Features").Single();
        return vector.Length == data.Features.Count ? vector.DenseValues().ToArray() : null;
    }
}
