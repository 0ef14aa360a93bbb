using Cairn.Client;
using Cairn.ML.Training;

namespace Cairn.Tests.Training;

public sealed class RecipeErrorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private const string Base = """
        experiment: errs
        task: binary
        data: data.csv
        label: y
        """;

    [Theory]
    [InlineData("trainer: {name: xgboost}", "'trainer.name'", "'xgboost' is not a trainer")]
    [InlineData("trainer: {name: fasttree, hyperparameters: {learning_rate: 1.5}}", "'trainer.hyperparameters.learning_rate'", "out of range")]
    [InlineData("trainer: {name: fasttree, hyperparameters: {number_of_trees: 0}}", "'trainer.hyperparameters.number_of_trees'", "out of range")]
    [InlineData("trainer: {name: fasttree, hyperparameters: {number_of_trees: 2.5}}", "'trainer.hyperparameters.number_of_trees'", "whole number")]
    [InlineData("trainer: {name: sdca, hyperparameters: {number_of_trees: 10}}", "'trainer.hyperparameters.number_of_trees'", "'sdca' has no such hyperparameter")]
    [InlineData("trainer: {name: lightgbm, hyperparameters: {learning_rate: fast}}", "'trainer.hyperparameters.learning_rate'", "not a number")]
    [InlineData("split: {test_fraction: 1.2}", "'split.test_fraction'", "out of range")]
    [InlineData("cv: {folds: 1}", "'cv.folds'", "out of range")]
    [InlineData("split: {test_fraction: 0.2}\ncv: {folds: 3}", "'cv'", "not both")]
    [InlineData("features: [x1, {name: x2, type: blob}]", "'features[1].type'", "not a feature type")]
    [InlineData("features: [y]", "'features'", "is the label")]
    [InlineData("colour: red", "'colour'", "unknown field")]
    public void Invalid_recipe_fields_are_refused_naming_the_file_and_field(string extra, string field, string rule)
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => Recipe.Parse(Base + "\n" + extra, "recipe.yaml"));
        Assert.StartsWith("recipe.yaml: invalid " + field, e.Message);
        Assert.Contains(rule, e.Message);
    }

    [Fact]
    public void Unknown_task_names_the_field()
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => Recipe.Parse("task: clustering\ndata: d.csv\nlabel: y", "r.yaml"));
        Assert.Equal("r.yaml: invalid 'task': 'clustering' is not a task; expected binary, multiclass or regression.", e.Message);
    }

    [Theory]
    [InlineData("x1,x2,z\n1,2,yes\n", "", "the label column 'y'")]
    [InlineData("", "", "the file is empty")]
    [InlineData("x1,x2,y\n", "", "no data rows")]
    [InlineData("x1,x2,y\n1,2,yes\n2,3,no\n", "features: [x1, x9]", "the feature column 'x9'")]
    [InlineData("x1,x2,y\n1,2,yes\n2,abc,no\n", "features: [x1, {name: x2, type: numeric}]", "column 'x2' is numeric but row 2 holds 'abc'")]
    [InlineData("x1,x2,y\n1,2,yes\n2,3,maybe\n3,4,no\n", "", "exactly 2 label values")]
    [InlineData("x1,x2,y\n1,2,yes\n2,3\n", "", "line 3 has 2 fields")]
    [InlineData("x1,Score,y\n1,2,yes\n2,3,no\n", "", "the feature column 'Score' has a name ML.NET reserves")]
    public async Task Bad_data_fails_before_anything_is_logged(string csv, string extra, string expected)
    {
        var data = _dir.Combine("data.csv");
        File.WriteAllText(data, csv);
        var recipe = Recipe.Parse(Base + "\n" + extra, "recipe.yaml", _dir.Path);
        using var client = CairnClient.Open(_dir.Combine("store"));

        var e = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Trainer.RunAsync(recipe, client, cancellationToken: TestContext.Current.CancellationToken));

        Assert.StartsWith(data, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Null(await client.Store.FindExperimentByNameAsync("errs", TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("split: {test_fraction: 0.9}", "invalid 'split.test_fraction': it leaves no training rows out of 2")]
    [InlineData("cv: {folds: 5}", "invalid 'cv.folds': 5 folds need at least 5 rows; the data has 2")]
    public async Task A_split_without_training_rows_fails_before_anything_is_logged(string extra, string expected)
    {
        File.WriteAllText(_dir.Combine("data.csv"), "x1,x2,y\n1,2,yes\n2,3,no\n");
        var recipe = Recipe.Parse(Base + "\n" + extra, "recipe.yaml", _dir.Path);
        using var client = CairnClient.Open(_dir.Combine("store"));

        var e = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Trainer.RunAsync(recipe, client, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal($"recipe.yaml: {expected}.", e.Message);
        Assert.Null(await client.Store.FindExperimentByNameAsync("errs", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Missing_data_file_is_not_found()
    {
        var recipe = Recipe.Parse(Base, "recipe.yaml", _dir.Path);
        using var client = CairnClient.Open(_dir.Combine("store"));
        var e = await Assert.ThrowsAsync<ResourceDoesNotExistException>(() => Trainer.RunAsync(recipe, client, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("data.csv", e.Message);
    }

    public void Dispose() => _dir.Dispose();
}
