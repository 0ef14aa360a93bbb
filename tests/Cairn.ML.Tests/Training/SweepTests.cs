using Cairn.Client;
using Cairn.ML.Models;
using Cairn.ML.Training;
using Cairn.Tracking;

namespace Cairn.Tests.Training;

public sealed class SweepTests : StoreTests
{
    private Recipe Write(string sweep, string task = "binary", string data = "churn.csv", string label = "y", string trainer = "fasttree")
    {
        if (!File.Exists(Dir.Combine(data)))
        {
            if (task == "regression") SyntheticData.Regression(Dir.Combine(data), rows: 600);
            else SyntheticData.Binary(Dir.Combine(data), rows: 600);
        }
        var path = Dir.Combine("recipe.yaml");
        File.WriteAllText(path, $"""
            experiment: sweeps
            task: {task}
            data: {data}
            label: {label}
            trainer: {trainer}
            sweep:
            {string.Join("\n", sweep.Split('\n').Select(l => "  " + l))}
            """);
        return Recipe.Load(path);
    }

    private async Task<IReadOnlyList<Run>> ChildrenOf(string parentRunId)
    {
        var parent = await Client.Store.GetRunAsync(parentRunId, Ct);
        var page = await Client.Store.SearchRunsAsync(new RunSearch([parent.Info.ExperimentId], $"tags.mlflow.parentRunId = '{parentRunId}'", MaxResults: 1000), Ct);
        return page.Items;
    }

    [Fact]
    public async Task A_grid_runs_every_combination_as_a_child_run_and_marks_the_best()
    {
        var recipe = Write("""
            method: grid
            parameters:
              number_of_trees: [5, 40]
              learning_rate: [0.05, 0.3]
            """);

        var result = await Sweep.RunAsync(recipe, Client, cancellationToken: Ct);

        var children = await ChildrenOf(result.ParentRunId);
        Assert.Equal(4, children.Count);
        Assert.All(children, c => Assert.Equal(RunStatus.FINISHED, c.Info.Status));
        var combos = children.Select(c => (Param(c, "number_of_trees"), Param(c, "learning_rate"))).Order().ToList();
        Assert.Equal([("40", "0.05"), ("40", "0.3"), ("5", "0.05"), ("5", "0.3")], combos);
        // The run marked best really has the highest auc of all children.
        var best = Assert.Single(children, c => c.Data.Tags.Any(t => t is { Key: "cairn.best_trial", Value: "true" }));
        var top = children.Max(c => Metric(c, "auc"));
        Assert.Equal(top, Metric(best, "auc"));
        Assert.Equal(best.Info.RunId, result.Best.RunId);

        var parent = await Client.Store.GetRunAsync(result.ParentRunId, Ct);
        Assert.Equal(RunStatus.FINISHED, parent.Info.Status);
        Assert.Contains(parent.Data.Tags, t => t is { Key: "cairn.best_run_id" } && t.Value == best.Info.RunId);
        Assert.Equal(Param(best, "number_of_trees"), Param(parent, "best.number_of_trees"));
        Assert.Equal(top, Metric(parent, "auc"));
        Assert.Equal(4, Metric(parent, "trials_completed"));
        // The parent holds the best trial's model package and plots.
        var model = await Client.ListArtifactsAsync(result.ParentRunId, "model", Ct);
        Assert.Contains(model.Files, f => f.Path == "model/MLmodel");
        Assert.NotEmpty((await Client.ListArtifactsAsync(result.ParentRunId, "plots", Ct)).Files);
    }

    [Fact]
    public async Task A_minimized_metric_picks_the_lowest()
    {
        var recipe = Write("""
            method: grid
            parameters:
              number_of_trees: [2, 60]
            """, task: "regression", data: "prices.csv", label: "price");

        var result = await Sweep.RunAsync(recipe, Client, cancellationToken: Ct);

        Assert.Equal("rmse", result.Metric);
        Assert.False(result.Maximize);
        var children = await ChildrenOf(result.ParentRunId);
        Assert.Equal(children.Min(c => Metric(c, "rmse")), result.Best.Metrics["rmse"]);
        Assert.Equal("60", Param(children.Single(c => c.Info.RunId == result.Best.RunId), "number_of_trees"));
    }

    [Fact]
    public void A_random_sweep_is_reproducible_and_stays_in_its_ranges()
    {
        var recipe = Write("""
            method: random
            trials: 40
            seed: 3
            parameters:
              learning_rate: {min: 0.01, max: 0.3, log: true}
              number_of_leaves: {min: 4, max: 64, integer: true}
              trainer: [fasttree, lightgbm]
            """);

        var first = recipe.Sweep!.Expand(recipe);
        var second = recipe.Sweep!.Expand(recipe);

        Assert.Equal(40, first.Count);
        Assert.Equal(first.Select(Describe), second.Select(Describe));
        Assert.All(first, t => Assert.InRange(t.Hyperparameters["learning_rate"], 0.01, 0.3));
        Assert.All(first, t => Assert.InRange(t.Hyperparameters["number_of_leaves"], 4, 64));
        Assert.All(first, t => Assert.Equal(Math.Floor(t.Hyperparameters["number_of_leaves"]), t.Hyperparameters["number_of_leaves"]));
        Assert.Equal(["fasttree", "lightgbm"], first.Select(t => t.Trainer).Distinct().Order());
        // Log-uniform: about as many draws below the geometric middle (~0.055) as above it; uniform would put ~80% above.
        var below = first.Count(t => t.Hyperparameters["learning_rate"] < Math.Sqrt(0.01 * 0.3));
        Assert.InRange(below, 10, 30);
    }

    [Fact]
    public async Task Parallel_trials_give_the_same_trials_and_the_same_best_as_sequential_ones()
    {
        var recipe = Write("""
            method: grid
            parameters:
              number_of_trees: [3, 10, 30]
            """);

        var sequential = await Sweep.RunAsync(recipe, Client, new TrainOptions { Parallelism = 1 }, Ct);
        var parallel = await Sweep.RunAsync(recipe, Client, new TrainOptions { Parallelism = 3 }, Ct);

        Assert.Equal(sequential.Trials.Select(t => Describe(t.Settings)), parallel.Trials.Select(t => Describe(t.Settings)));
        Assert.Equal(sequential.Best.Number, parallel.Best.Number);
        Assert.Equal(sequential.Best.Metrics["auc"], parallel.Best.Metrics["auc"], 6);
    }

    [Fact]
    public async Task A_time_budget_stops_starting_trials_and_says_so()
    {
        var recipe = Write("""
            method: random
            trials: 200
            time_budget: 2s
            parameters:
              number_of_trees: [20, 40, 60]
            """);

        var result = await Sweep.RunAsync(recipe, Client, cancellationToken: Ct);

        Assert.True(result.StoppedByTimeBudget);
        Assert.InRange(result.Trials.Count, 1, 199);
        Assert.Equal(200, result.Trials.Count + result.Skipped);
        var parent = await Client.Store.GetRunAsync(result.ParentRunId, Ct);
        Assert.Contains(parent.Data.Tags, t => t is { Key: "cairn.sweep.stopped_by", Value: "time_budget" });
        Assert.Equal(result.Skipped, Metric(parent, "trials_skipped"));
    }

    [Fact]
    public async Task Register_registers_the_best_model_and_it_predicts()
    {
        var recipe = Write("""
            method: grid
            parameters:
              number_of_trees: [5, 20]
            """);

        var result = await Sweep.RunAsync(recipe, Client, new TrainOptions { RegisterAs = "swept" }, Ct);

        Assert.NotNull(result.Version);
        Assert.Equal($"runs:/{result.ParentRunId}/model", result.Version.Source);
        var folder = Dir.Combine("download");
        await Client.DownloadArtifactsAsync(result.ParentRunId, "model", folder, Ct);
        using var package = ModelPackage.Load(Path.Combine(folder, "model"));
        var data = TrainingData.Load(recipe);
        var predictions = package.Predictor.Predict(data.Batch.Select([0, 1, 2]));
        Assert.Equal(3, ((float[])predictions["Probability"]).Length);
    }

    [Theory]
    [InlineData("method: grid\nparameters: {learning_rate: {min: 0.1, max: 0.2}}", "sweep.parameters.learning_rate", "for method: random")]
    [InlineData("method: random\nparameters: {learning_rate: [0.1]}", "sweep.trials", "required for a random sweep")]
    [InlineData("method: random\ntrials: 3\nparameters: {learning_rate: {min: 0.3, max: 0.1}}", "sweep.parameters.learning_rate", "larger than max")]
    [InlineData("method: random\ntrials: 3\nparameters: {learning_rate: {min: 0, max: 0.1, log: true}}", "sweep.parameters.learning_rate.min", "min > 0")]
    [InlineData("method: grid\nparameters: {learning_rate: [0.1, 2]}", "sweep.parameters.learning_rate", "out of range")]
    [InlineData("method: grid\nparameters: {number_of_trees: []}", "sweep.parameters.number_of_trees", "lists no value")]
    [InlineData("method: grid\nparameters: {l2_regularization: [0.1]}", "sweep.parameters.l2_regularization", "no such hyperparameter")]
    [InlineData("method: grid\nparameters: {trainer: [fasttree, xgboost]}", "sweep.parameters.trainer", "'xgboost' is not a trainer")]
    [InlineData("method: grid\nparameters: {trainer: [fasttree, sdca], number_of_trees: [5]}", "sweep.parameters.number_of_trees", "trainer sdca")]
    [InlineData("method: grid\nmetric: rmse\nparameters: {number_of_trees: [5]}", "sweep.metric", "does not produce 'rmse'")]
    [InlineData("method: grid\ntime_budget: soon\nparameters: {number_of_trees: [5]}", "sweep.time_budget", "not a duration")]
    [InlineData("method: grid\nbudget: 5\nparameters: {number_of_trees: [5]}", "sweep.budget", "unknown field")]
    [InlineData("method: bayes\nparameters: {number_of_trees: [5]}", "sweep.method", "expected grid or random")]
    public async Task A_bad_sweep_is_refused_naming_the_field_and_creates_no_run(string sweep, string field, string rule)
    {
        var before = (await Client.Store.SearchExperimentsAsync(new ExperimentSearch(), Ct)).Items.Count;

        var error = Assert.Throws<InvalidParameterValueException>(() => Write(sweep));

        Assert.Contains($"invalid '{field}'", error.Message);
        Assert.Contains(rule, error.Message);
        Assert.Contains("recipe.yaml", error.Message);
        Assert.Equal(before, (await Client.Store.SearchExperimentsAsync(new ExperimentSearch(), Ct)).Items.Count);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    [InlineData("1.5h", 5400)]
    [InlineData("45", 45)]
    public void Time_budgets_read_seconds_minutes_and_hours(string text, double seconds) =>
        Assert.Equal(seconds, SweepSpec.Duration(text, "recipe.yaml").TotalSeconds);

    private static string Describe(TrialSettings t) =>
        $"{t.Number}:{t.Trainer}:{string.Join(",", t.Hyperparameters.OrderBy(h => h.Key).Select(h => $"{h.Key}={h.Value}"))}";

    private static string Param(Run run, string key) => run.Data.Params.Single(p => p.Key == key).Value;

    private static double Metric(Run run, string key) => run.Data.Metrics.Single(m => m.Key == key).Value;
}
