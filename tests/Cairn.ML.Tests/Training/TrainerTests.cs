using Cairn.Client;
using Cairn.ML.Models;
using Cairn.ML.Training;
using Cairn.Tracking;

namespace Cairn.Tests.Training;

public sealed class TrainerTests : StoreTests
{
    private Recipe WriteRecipe(string yaml, string name = "recipe.yaml")
    {
        var path = Dir.Combine(name);
        File.WriteAllText(path, yaml);
        return Recipe.Load(path);
    }

    [Fact]
    public async Task Binary_recipe_trains_logs_params_input_metrics_artifacts_and_registers()
    {
        var csv = SyntheticData.Binary(Dir.Combine("churn.csv"));
        var recipe = WriteRecipe("""
            experiment: churn
            task: binary
            data: churn.csv
            label: y
            split: {test_fraction: 0.25, seed: 7}
            trainer:
              name: fasttree
              hyperparameters: {number_of_trees: 30, learning_rate: 0.2}
            """);

        var result = await Trainer.RunAsync(recipe, Client, registerAs: "churn-model", Ct);

        Assert.True(result.Metrics["auc"] > 0.9, $"auc {result.Metrics["auc"]}");
        Assert.True(result.Metrics["accuracy"] > 0.8, $"accuracy {result.Metrics["accuracy"]}");
        var run = await Client.Store.GetRunAsync(result.RunId, Ct);
        Assert.Equal(RunStatus.FINISHED, run.Info.Status);
        var parameters = run.Data.Params.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("binary", parameters["task"]);
        Assert.Equal("fasttree", parameters["trainer"]);
        Assert.Equal("30", parameters["number_of_trees"]);
        Assert.Equal("0.25", parameters["split.test_fraction"]);
        Assert.Equal("x1:numeric,x2:numeric,color:categorical", parameters["features"]);
        Assert.Equal(["accuracy", "auc", "average_precision", "f1", "holdout_auc_by_trees", "log_loss", "precision", "recall"], run.Data.Metrics.Select(m => m.Key).Order());
        // The learning curve: one point per tree (30 trees), the last equal to the final auc.
        var curve = await Client.Store.GetMetricHistoryAsync(result.RunId, "holdout_auc_by_trees", cancellationToken: Ct);
        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), curve.Items.Select(p => p.Step).Order());
        Assert.Equal(result.Metrics["auc"], curve.Items.Single(p => p.Step == 30).Value, 6);
        var input = Assert.Single(run.Inputs);
        var sha = TrainingData.HashFile(csv);
        Assert.Equal(("churn", sha[..32]), (input.Dataset.Name, input.Dataset.Digest));
        Assert.Contains("mlflow_colspec", input.Dataset.Schema);
        Assert.Contains(input.Tags, t => t is { Key: "mlflow.data.context", Value: "training" });

        var model = await Client.ListArtifactsAsync(result.RunId, "model", Ct);
        Assert.Equal(["model/MLmodel", "model/data_profile.json", "model/input_example.json", "model/model.zip", "model/reference_sample.parquet"],
            model.Files.Select(f => f.Path).Order(StringComparer.Ordinal));
        var plots = await Client.ListArtifactsAsync(result.RunId, "plots", Ct);
        Assert.Equal(["plots/confusion_matrix.png", "plots/feature_importance.png", "plots/learning_curve.png", "plots/pr_curve.png", "plots/roc_curve.png"],
            plots.Files.Select(f => f.Path).Order(StringComparer.Ordinal));

        var download = Dir.Combine("download");
        var files = await Client.DownloadArtifactsAsync(result.RunId, null, download, Ct);
        Assert.All(files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)), f =>
        {
            // A PNG that decodes to a full-width plot with something drawn on it (more than one colour).
            using var image = SkiaSharp.SKBitmap.Decode(f);
            Assert.NotNull(image);
            Assert.Equal(600, image.Width);
            Assert.True(image.Pixels.Distinct().Skip(1).Any(), $"{f} is blank");
        });
        var profile = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(download, "model", "data_profile.json")))!;
        Assert.Equal(2000, profile["rows"]!.GetValue<int>());
        Assert.True(profile["features"]!["x1"]!["nulls"]!.GetValue<int>() > 0);
        Assert.Equal(3, profile["features"]!["color"]!["distinct"]!.GetValue<int>());
        // The reference sample: every training row (2,000, fewer than 100,000), features then the label, as trained on.
        var sample = ParquetTable.Read(Path.Combine(download, "model", ReferenceSample.FileName));
        var training = CsvTable.Read(csv);
        Assert.Equal(["x1", "x2", "color", "y"], sample.Names);
        Assert.Equal(2000, sample.RowCount);
        Assert.True(sample.TryNumbers("x1", out var sampled, out _));
        Assert.True(training.TryNumbers("x1", out var trained, out _));
        Assert.Equal(trained.Select(BitConverter.DoubleToInt64Bits), sampled.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(training["color"].AsEnumerable(), sample["color"].AsEnumerable());
        Assert.Equal(training["y"].AsEnumerable(), sample["y"].AsEnumerable());

        using var package = ModelPackage.Load(Path.Combine(download, "model"));
        Assert.Equal(result.RunId, package.Manifest.RunId);
        // Quoted, or Python's YAML 1.1 reader would see booleans.
        Assert.Matches("- ['\"]no['\"]", File.ReadAllText(Path.Combine(download, "model", "MLmodel")));
        Assert.Equal(["no", "yes"], ((List<object>)package.Manifest.Metadata["cairn_classes"]!).Cast<string>());
        Assert.Equal(["x1", "x2", "color"], package.Manifest.Inputs.Select(i => i.Name));
        Assert.Equal("double", package.Manifest.Inputs[0].Type);
        var output = package.Predictor.Predict(new ColumnBatch().Add("x1", new[] { 3.0, -3.0 }).Add("x2", new[] { -1.0, 1.0 }).Add("color", new[] { "red", "blue" }));
        Assert.Equal([true, false], (bool[])output["PredictedLabel"]);

        Assert.NotNull(result.Version);
        Assert.Equal(("churn-model", "1", $"runs:/{result.RunId}/model"), (result.Version.Name, result.Version.Version, result.Version.Source));
    }

    [Fact]
    public async Task Multiclass_recipe_with_cross_validation_scores_well()
    {
        SyntheticData.Multiclass(Dir.Combine("iris.csv"));
        var recipe = WriteRecipe("""
            experiment: iris
            task: multiclass
            data: iris.csv
            label: species
            features: [a, {name: b, type: numeric}]
            cv: {folds: 3, seed: 1}
            trainer: {name: lightgbm, hyperparameters: {number_of_iterations: 30}}
            """);

        var result = await Trainer.RunAsync(recipe, Client, cancellationToken: Ct);

        Assert.True(result.Metrics["micro_accuracy"] > 0.9, $"micro_accuracy {result.Metrics["micro_accuracy"]}");
        Assert.True(result.Metrics["macro_accuracy"] > 0.9);
        Assert.True(result.Metrics["log_loss"] < 0.5);
        var run = await Client.Store.GetRunAsync(result.RunId, Ct);
        Assert.Contains(run.Data.Params, p => p is { Key: "cv.folds", Value: "3" });
        var plots = await Client.ListArtifactsAsync(result.RunId, "plots", Ct);
        Assert.Equal(["plots/confusion_matrix.png", "plots/feature_importance.png"], plots.Files.Select(f => f.Path).Order(StringComparer.Ordinal));

        var folder = Dir.Combine("dl");
        await Client.DownloadArtifactsAsync(result.RunId, "model", folder, Ct);
        using var package = ModelPackage.Load(Path.Combine(folder, "model"));
        var output = package.Predictor.Predict(new ColumnBatch().Add("a", new[] { 0.0, 4.0, -4.0 }).Add("b", new[] { 0.0, 4.0, 4.0 }));
        Assert.Equal(["setosa", "versicolor", "virginica"], output.GetStrings("PredictedLabel").Select(s => s ?? ""));
    }

    [Fact]
    public async Task Regression_recipe_fits_a_linear_signal()
    {
        SyntheticData.Regression(Dir.Combine("houses.csv"));
        var recipe = WriteRecipe("""
            experiment: houses
            task: regression
            data: houses.csv
            label: price
            trainer: {name: sdca, hyperparameters: {maximum_number_of_iterations: 20}}
            """);

        var result = await Trainer.RunAsync(recipe, Client, cancellationToken: Ct);

        Assert.True(result.Metrics["r2"] > 0.95, $"r2 {result.Metrics["r2"]}");
        Assert.True(result.Metrics["rmse"] < 1.0);
        Assert.True(result.Metrics["mae"] < 1.0);
        var plots = await Client.ListArtifactsAsync(result.RunId, "plots", Ct);
        Assert.Equal(["plots/feature_importance.png", "plots/predicted_vs_actual.png"], plots.Files.Select(f => f.Path).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Saved_mlnet_package_predicts_the_same_as_the_model_in_process()
    {
        SyntheticData.Binary(Dir.Combine("churn.csv"), rows: 1000);
        var recipe = WriteRecipe("""
            task: binary
            data: churn.csv
            label: y
            trainer: {name: lbfgs}
            """);
        var data = TrainingData.Load(recipe);
        var fitted = ModelFitter.Fit(recipe, data);
        var folder = Dir.Combine("package");
        ModelPackage.SaveMlNet(folder, fitted.Context, fitted.Model, fitted.InputSchema, data.Signature(), data.Batch);

        var rows = Enumerable.Range(0, 50).ToArray();
        var batch = data.Batch.Select(rows);
        using var reloaded = ModelPackage.Load(folder);
        var fromPackage = reloaded.Predictor.Predict(batch);
        using var inProcess = new MlNetPredictor(Path.Combine(folder, ModelPackage.MlNetModelFile));
        var direct = fitted.Model.Transform(inProcess.ToDataView(batch));
        var expected = Microsoft.ML.Data.ColumnCursorExtensions.GetColumn<float>(direct, "Probability").ToArray();

        Assert.Equal("mlnet", reloaded.Predictor.Flavor);
        Assert.Equal(expected, (float[])fromPackage["Probability"]);
        Assert.Contains("input_example.json", reloaded.Manifest.InputExample);
        var example = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "input_example.json")))!;
        Assert.Equal(["x1", "x2", "color"], example["columns"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.Equal(5, example["data"]!.AsArray().Count);
        var manifestText = File.ReadAllText(Path.Combine(folder, "MLmodel"));
        Assert.Contains("mlnet:", manifestText);
        Assert.Equal(["PredictedLabel", "Score", "Probability"], reloaded.Manifest.Outputs.Select(o => o.Name));
        Assert.Contains("""[{"type":"double","name":"x1","required":true}""", manifestText);
    }

    [Fact]
    public async Task A_recipe_in_a_git_work_tree_records_its_commit_as_the_runs_code_version()
    {
        var repo = Dir.Combine("repo");
        Directory.CreateDirectory(Path.Combine(repo, "training"));
        SyntheticData.Binary(Path.Combine(repo, "training", "churn.csv"), rows: 300);
        File.WriteAllText(Path.Combine(repo, "training", "recipe.yaml"), """
            task: binary
            data: churn.csv
            label: y
            trainer: {name: fasttree, hyperparameters: {number_of_trees: 5}}
            """);
        Git(repo, "init", "-q");
        Git(repo, "add", ".");
        Git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "recipe");
        var head = Git(repo, "rev-parse", "HEAD").Trim();

        var result = await Trainer.RunAsync(Recipe.Load(Path.Combine(repo, "training", "recipe.yaml")), Client, cancellationToken: Ct);

        var tags = (await Client.Store.GetRunAsync(result.RunId, Ct)).Data.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(head, tags[SystemTags.SourceGitCommit]);
        Assert.Equal(Path.Combine(repo, "training", "recipe.yaml"), tags[SystemTags.SourceName]);
        Assert.Equal("JOB", tags[SystemTags.SourceType]);
    }

    private static string Git(string folder, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("git") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var git = System.Diagnostics.Process.Start(start)!;
        var output = git.StandardOutput.ReadToEnd();
        var error = git.StandardError.ReadToEnd();
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, $"git {string.Join(' ', args)}: {error}");
        return output;
    }
}
