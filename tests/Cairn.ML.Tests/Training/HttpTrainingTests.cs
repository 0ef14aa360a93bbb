using Cairn.Client;
using Cairn.ML.Evaluation;
using Cairn.ML.Models;
using Cairn.ML.Training;

namespace Cairn.Tests.Training;

/// <summary>Training and evaluation through a real server: artifacts go up with PUT through the proxy and come back down.</summary>
public sealed class HttpTrainingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Train_over_http_uploads_the_package_registers_it_and_evaluates_it_by_alias()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        SyntheticData.Binary(_dir.Combine("churn.csv"), rows: 1000);
        File.WriteAllText(_dir.Combine("recipe.yaml"), """
            experiment: remote
            task: binary
            data: churn.csv
            label: y
            trainer: {name: fastforest, hyperparameters: {number_of_trees: 20}}
            """);
        using var client = CairnClient.Open(server.BaseAddress.ToString());

        var result = await Trainer.RunAsync(Recipe.Load(_dir.Combine("recipe.yaml")), client, "remote-model", ct);

        Assert.True(result.Metrics["auc"] > 0.9, $"auc {result.Metrics["auc"]}");
        var run = await client.Store.GetRunAsync(result.RunId, ct);
        Assert.StartsWith("mlflow-artifacts:", run.Info.ArtifactUri);
        var listing = await client.ListArtifactsAsync(result.RunId, "model", ct);
        Assert.Contains(listing.Files, f => f.Path == "model/model.zip" && f.FileSize > 0);
        Assert.True(File.Exists(Path.Combine(server.Options.ArtifactsDestination!, run.Info.ExperimentId, result.RunId, "artifacts", "model", "MLmodel")));

        await client.Registry.SetRegisteredModelAliasAsync("remote-model", "champion", result.Version!.Version, cancellationToken: ct);
        var evaluation = await Evaluator.RunAsync("models:/remote-model@champion", _dir.Combine("churn.csv"), client,
            new EvaluationOptions { Requirements = ["auc >= 0.9"] }, ct);
        Assert.True(evaluation.Passed);

        var local = _dir.Combine("copy");
        await client.DownloadArtifactsAsync(result.RunId, "model", local, ct);
        using var package = ModelPackage.Load(Path.Combine(local, "model"));
        Assert.Equal("mlnet", package.Predictor.Flavor);
    }

    [Fact]
    public async Task LogArtifactAsync_puts_a_single_file_through_the_proxy()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await RunningServer.StartAsync();
        using var client = CairnClient.Open(server.BaseAddress.ToString());
        var run = await client.StartRunAsync("files", cancellationToken: ct);
        var file = _dir.Combine("notes.txt");
        File.WriteAllText(file, "hello");

        var written = await client.LogArtifactAsync(run.RunId, file, "docs/a", ct);
        await run.EndAsync(cancellationToken: ct);

        Assert.Equal(["docs/a/notes.txt"], written);
        var back = await client.DownloadArtifactsAsync(run.RunId, "docs/a/notes.txt", _dir.Combine("back"), ct);
        Assert.Equal("hello", File.ReadAllText(Assert.Single(back)));
    }

    public void Dispose() => _dir.Dispose();
}
