using Cairn.Client;
using Cairn.Tests.Training;

namespace Cairn.Tests;

public sealed class CliTrainEvaluateTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    /// <summary>The CLI's own in-process harness, with CAIRN_HOME in a folder of this test.</summary>
    private async Task<(int Code, string Out, string Err)> CairnAsync(params string[] args)
    {
        using var cli = new CliHarness();
        cli.SetEnvironment("CAIRN_HOME", _dir.Combine("home"));
        var result = await cli.RunAsync(args);
        return (result.ExitCode, result.Out, result.Err);
    }

    [Fact]
    public async Task Train_with_a_sweep_runs_trials_in_parallel_prints_one_line_per_trial_and_a_ranked_table()
    {
        SyntheticData.Binary(_dir.Combine("train.csv"), rows: 600, seed: 11);
        var recipe = _dir.Combine("sweep.yaml");
        File.WriteAllText(recipe, """
            experiment: cli-sweep
            task: binary
            data: train.csv
            label: y
            trainer: fasttree
            sweep:
              method: grid
              parameters: {number_of_trees: [3, 30], learning_rate: [0.1, 0.3]}
            """);

        var sweep = await CairnAsync("train", "--recipe", recipe, "-j", "2", "--register", "swept", "--tracking-uri", _dir.Combine("store"));

        Assert.True(sweep.Code == 0, sweep.Err);
        var trialLines = sweep.Err.Split('\n').Where(l => l.Contains("] trial ", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, trialLines.Count);
        Assert.Contains(trialLines, l => l.StartsWith("[4/4] trial ", StringComparison.Ordinal) && l.Contains("best so far: trial", StringComparison.Ordinal));
        Assert.Contains("4 trials, best first by auc (maximize)", sweep.Out);
        Assert.Contains("Registered swept version 1.", sweep.Out);
        // The row marked best comes first.
        var firstRow = sweep.Out.Split('\n').First(l => l.Contains("FINISHED", StringComparison.Ordinal));
        Assert.Contains("*", firstRow);

        var bad = await CairnAsync("train", "--recipe", recipe, "-j", "0", "--tracking-uri", _dir.Combine("store"));
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("-j/--jobs must be 1 or more", bad.Err);
    }

    [Fact]
    public async Task Train_registers_then_evaluate_gates_on_requirements()
    {
        SyntheticData.Binary(_dir.Combine("train.csv"), rows: 1500, seed: 11);
        var test = SyntheticData.Binary(_dir.Combine("test.csv"), rows: 500, seed: 12);
        var recipe = _dir.Combine("recipe.yaml");
        File.WriteAllText(recipe, """
            experiment: cli
            task: binary
            data: train.csv
            label: y
            trainer: {name: lightgbm, hyperparameters: {number_of_iterations: 40}}
            """);
        var store = _dir.Combine("store");

        var train = await CairnAsync("train", "--recipe", recipe, "--register", "gate", "--tracking-uri", store);
        Assert.True(train.Code == 0, train.Err);
        Assert.Contains("Registered gate version 1.", train.Out);
        using (var client = CairnClient.Open(store))
            await client.Registry.SetRegisteredModelAliasAsync("gate", "champion", "1", cancellationToken: TestContext.Current.CancellationToken);

        var pass = await CairnAsync("evaluate", "--model", "models:/gate@champion", "--data", test, "--require", "accuracy >= 0.8", "--require", "auc > 0.9", "--tracking-uri", store, "--json");
        Assert.True(pass.Code == 0, pass.Err);
        Assert.Contains("\"passed\": true", pass.Out);

        var fail = await CairnAsync("evaluate", "--model", "models:/gate/1", "--data", test, "--require", "accuracy >= 0.999", "--tracking-uri", store);
        Assert.Equal(6, fail.Code);
        Assert.StartsWith("error: requirement 'accuracy >= 0.999' failed: accuracy = 0.", fail.Err);

        using (var client = CairnClient.Open(store))
        {
            var runs = await client.Store.SearchRunsAsync(new Cairn.Tracking.RunSearch([(await client.Store.FindExperimentByNameAsync("Default", TestContext.Current.CancellationToken))!.ExperimentId]), TestContext.Current.CancellationToken);
            Assert.Equal(2, runs.Items.Count);
            Assert.All(runs.Items, r => Assert.Contains(r.Data.Metrics, m => m.Key == "auc"));
            Assert.Contains(runs.Items, r => r.Data.Tags.Any(t => t is { Key: "cairn.requirements", Value: "failed" }));
        }

        var runUri = System.Text.RegularExpressions.Regex.Match(train.Out, @"runs:/\w+/model").Value;
        var byRun = await CairnAsync("evaluate", "--model", runUri, "--data", test, "--tracking-uri", store);
        Assert.True(byRun.Code == 0, byRun.Err);
    }

    [Fact]
    public async Task Train_with_a_bad_recipe_prints_one_line_and_exits_2()
    {
        var recipe = _dir.Combine("bad.yaml");
        File.WriteAllText(recipe, "task: binary\ndata: x.csv\nlabel: y\ntrainer: {name: fasttree, hyperparameters: {learning_rate: 7}}\n");
        var result = await CairnAsync("train", "--recipe", recipe, "--tracking-uri", _dir.Combine("store"));
        Assert.Equal(2, result.Code);
        Assert.Equal($"error: {recipe}: invalid 'trainer.hyperparameters.learning_rate': 7 is out of range; expected more than 0 and at most 1.", result.Err.Trim());
    }

    [Fact]
    public async Task Evaluate_with_an_unknown_metric_exits_2()
    {
        var result = await CairnAsync("evaluate", "--model", _dir.Path, "--data", "x.csv", "--require", "accuracy >> 1", "--tracking-uri", _dir.Combine("store"));
        Assert.Equal(2, result.Code);
        Assert.Contains("'--require'", result.Err);
    }

    public void Dispose() => _dir.Dispose();
}
