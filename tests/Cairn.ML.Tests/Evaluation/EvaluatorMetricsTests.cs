using Cairn.ML.Evaluation;
using Cairn.ML.Models;
using Cairn.ML.Training;
using Cairn.Tests.Training;
using Microsoft.ML;

namespace Cairn.ML.Tests.Evaluation;

/// <summary>
/// <c>cairn evaluate</c> reports ML.NET's numbers, as training does: the evaluation of a trained model equals ML.NET's
/// evaluator on the model's own outputs for the same rows, to the bit.
/// </summary>
public sealed class EvaluatorMetricsTests : StoreTests
{
    private sealed class BinaryRow
    {
        public bool Label { get; set; }
        public float Score { get; set; }
        public float Probability { get; set; }
        public bool PredictedLabel { get; set; }
    }

    [Fact]
    public async Task Evaluate_reports_what_ml_net_evaluates_on_the_models_own_scores()
    {
        SyntheticData.Binary(Dir.Combine("train.csv"), rows: 800, seed: 11);
        var test = SyntheticData.Binary(Dir.Combine("test.csv"), rows: 400, seed: 12);
        File.WriteAllText(Dir.Combine("recipe.yaml"), "task: binary\ndata: train.csv\nlabel: y\ntrainer: {name: fasttree, hyperparameters: {number_of_trees: 20}}\nfeature_importance: false\n");
        var trained = await Trainer.RunAsync(Recipe.Load(Dir.Combine("recipe.yaml")), Client, cancellationToken: Ct);

        var evaluation = await Evaluator.RunAsync(trained.ModelUri, test, Client, new EvaluationOptions { Requirements = ["metrics.auc > 0.5", "f1 >= 0"] }, Ct);

        var location = await Client.DownloadModelAsync(trained.ModelUri, Dir.Combine("downloaded"), Ct);
        using var package = ModelPackage.Load(location.Folder);
        var table = CsvTable.ReadAny(test);
        var output = package.Predictor.Predict(Evaluator.InputBatch(table, package.Predictor, "y"));
        var scores = Array.ConvertAll(output.GetDoubles("Score"), v => (float)v);
        var probabilities = Array.ConvertAll(output.GetDoubles("Probability"), v => (float)v);
        var positive = ((List<object>)package.Manifest.Metadata["cairn_classes"]!)[1].ToString();
        var rows = table["y"].Select((y, i) => new BinaryRow { Label = y == positive, Score = scores[i], Probability = probabilities[i] }).ToArray();
        var ml = new MLContext(1);
        var theirs = ml.BinaryClassification.Evaluate(ml.Data.LoadFromEnumerable(rows), "Label");

        Assert.True(evaluation.Passed);
        Assert.Equal(theirs.Accuracy, evaluation.Metrics["accuracy"]);
        Assert.Equal(theirs.AreaUnderRocCurve, evaluation.Metrics["auc"]);
        Assert.Equal(theirs.F1Score, evaluation.Metrics["f1"]);
        Assert.Equal(theirs.PositivePrecision, evaluation.Metrics["precision"]);
        Assert.Equal(theirs.PositiveRecall, evaluation.Metrics["recall"]);
        Assert.Equal(theirs.LogLoss, evaluation.Metrics["log_loss"]);
        Assert.Equal(trained.RunId, location.RunId);
    }

    [Fact]
    public void Requirements_parse_through_the_one_gate_grammar_and_fail_on_nan()
    {
        var requirement = Requirement.Parse("metrics.accuracy != 0.5");

        Assert.Equal(("accuracy", "!=", 0.5), (requirement.Metric, requirement.Operator, requirement.Threshold));
        Assert.True(requirement.Holds(0.7));
        // Before, "!=" held for NaN (NaN != 0.5 is true in IEEE arithmetic); a comparison with NaN now fails and says so.
        var outcome = new RequirementOutcome(requirement, double.NaN, requirement.Holds(double.NaN));
        Assert.False(outcome.Passed);
        Assert.Equal("accuracy is NaN, and a comparison with NaN fails", outcome.Reason);
        var error = Assert.Throws<InvalidParameterValueException>(() => Requirement.Parse("accuracy >> 1"));
        Assert.Contains("'--require'", error.Message);
    }
}
