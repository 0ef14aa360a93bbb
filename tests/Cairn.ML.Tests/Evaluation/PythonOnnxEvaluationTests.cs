using System.Globalization;
using System.Text;
using Cairn.Client;
using Cairn.Metrics;
using Cairn.ML.Evaluation;
using Cairn.ML.Training;
using Cairn.Registry;
using Cairn.Tests.Models;
using Cairn.Tracking;

namespace Cairn.Tests.Evaluation;

/// <summary>
/// A binary classifier as Python's <c>mlflow.onnx.log_model</c> leaves it (an MLmodel with the onnx flavor and no Cairn
/// metadata) is evaluated with <c>--task binary</c> and 0/1 labels, from a folder and, registered through a real server's
/// artifact proxy with an <c>mlflow-artifacts:</c> source, by <c>cairn evaluate --model models:/NAME/VERSION</c>.
/// </summary>
public sealed class PythonOnnxEvaluationTests : IDisposable
{
    private const string PythonMlmodel = """
        artifact_path: model
        flavors:
          onnx:
            code: null
            onnx_model: model.onnx
            onnx_version: 1.15.0
            providers:
            - CPUExecutionProvider
          python_function:
            data: model.onnx
            env:
              conda: conda.yaml
              virtualenv: python_env.yaml
            loader_module: mlflow.onnx
            python_version: 3.10.12
        mlflow_version: 2.11.3
        model_uuid: 5b3c0e2a9f4e4d7c8a1b2c3d4e5f6a7b
        utc_time_created: '2024-03-15 10:20:30.123456'
        """;

    // Logit = 2a - b + 0.5c.
    private static readonly float[,] W1 = { { 2f }, { -1f }, { 0.5f } };
    // Softmax over (0, logit) gives (1 - p, p) with the same p as the sigmoid of the logit.
    private static readonly float[,] W2 = { { 0f, 2f }, { 0f, -1f }, { 0f, 0.5f } };

    private readonly TempDirectory _dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _dir.Dispose();

    private string Package(string name, byte[] onnx)
    {
        var folder = _dir.Combine(name, "model");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), onnx);
        File.WriteAllText(Path.Combine(folder, "MLmodel"), PythonMlmodel);
        return folder;
    }

    /// <summary>Rows of a, b, c and a 0/1 label y that the logit mostly, not always, predicts; returns the file and the expected metrics.</summary>
    private (string File, BinaryMetrics Expected) Data(string labelColumn = "y", Func<int, string>? label = null)
    {
        var random = new Random(7);
        var text = new StringBuilder($"a,b,c,{labelColumn}\n");
        var actual = new List<bool>();
        var probabilities = new List<double>();
        for (var i = 0; i < 200; i++)
        {
            var (a, b, c) = (random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1);
            var logit = (float)(2 * a - b + 0.5 * c);
            var y = logit + (random.NextDouble() - 0.5) > 0;
            actual.Add(y);
            probabilities.Add((double)(1f / (1f + MathF.Exp(-logit))));
            text.Append(CultureInfo.InvariantCulture, $"{a:R},{b:R},{c:R},{(label is null ? (y ? "1" : "0") : label(i))}\n");
        }
        var file = _dir.Combine($"test-{Guid.NewGuid():N}.csv");
        File.WriteAllText(file, text.ToString());
        var p = probabilities.ToArray();
        return (file, BinaryMetrics.Evaluate(actual.ToArray(), p, p, BinaryMetrics.ProbabilityThreshold));
    }

    [Theory]
    [InlineData("Sigmoid")]
    [InlineData("Softmax")]
    public async Task A_python_onnx_classifier_with_one_or_two_probability_columns_evaluates_as_binary(string activation)
    {
        var folder = Package(activation, OnnxFixture.ClassifierModel(activation == "Sigmoid" ? W1 : W2, activation == "Sigmoid" ? [0f] : [0f, 0f], activation));
        var (data, expected) = Data();
        using var client = await CairnClient.OpenAsync(_dir.Combine("store"), cancellationToken: Ct);

        var result = await Evaluator.RunAsync(folder, data, client, new EvaluationOptions { Task = MlTask.Binary, Label = "y", Requirements = ["auc > 0.8"] }, Ct);

        Assert.True(result.Passed);
        Assert.Equal(expected.Accuracy, result.Metrics["accuracy"], 6);
        Assert.Equal(expected.Auc, result.Metrics["auc"], 4);
        Assert.Equal(expected.LogLoss, result.Metrics["log_loss"], 4);
        Assert.True(result.Metrics["accuracy"] is > 0.7 and < 1.0, $"accuracy {result.Metrics["accuracy"]}");
    }

    [Fact]
    public async Task Labels_other_than_0_and_1_and_outputs_that_are_not_probabilities_are_clear_errors()
    {
        using var client = await CairnClient.OpenAsync(_dir.Combine("store"), cancellationToken: Ct);
        var classifier = Package("sigmoid", OnnxFixture.ClassifierModel(W1, [0f], "Sigmoid"));
        var (badLabels, _) = Data(label: i => i == 3 ? "yes" : "1");
        var linear = Package("linear", OnnxFixture.LinearModel(W1, [0f]));
        var (data, _) = Data();
        var options = new EvaluationOptions { Task = MlTask.Binary, Label = "y" };

        var label = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Evaluator.RunAsync(classifier, badLabels, client, options, Ct));
        var raw = await Assert.ThrowsAsync<InvalidParameterValueException>(() => Evaluator.RunAsync(linear, data, client, options, Ct));

        Assert.Contains("row 4 is 'yes'", label.Message);
        Assert.Contains("labels 0 and 1", label.Message);
        Assert.Contains("output 'Y' is not a probability", raw.Message);
    }

    [Fact]
    public async Task Cairn_evaluate_loads_a_version_registered_with_an_mlflow_artifacts_source_through_the_servers_proxy()
    {
        await using var server = await RunningServer.StartAsync();
        var uri = server.BaseAddress.ToString();
        var folder = Package("served", OnnxFixture.ClassifierModel(W2, [0f, 0f], "Softmax"));
        var (data, expected) = Data();
        string source;
        using (var client = await CairnClient.OpenAsync(uri, cancellationToken: Ct))
        {
            // As the Python client does: log the package under the run, then register its artifact location.
            var run = await client.StartRunAsync("python", cancellationToken: Ct);
            await client.LogArtifactAsync(run.Info, folder, "model", Ct);
            await run.EndAsync(RunStatus.FINISHED, Ct);
            source = $"{run.Info.ArtifactUri.TrimEnd('/')}/model";
            Assert.StartsWith("mlflow-artifacts:/", source);
            await client.Registry.CreateRegisteredModelAsync("onnx-churn", cancellationToken: Ct);
            await client.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("onnx-churn", source, run.RunId), Ct);
            // The same source without a run (a version whose run is unknown here): read from the proxy alone.
            await client.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("onnx-churn", source), Ct);
        }

        foreach (var version in new[] { "1", "2" })
        {
            using var cli = new CliHarness();
            cli.SetEnvironment("CAIRN_HOME", _dir.Combine("home"));
            var result = await cli.RunAsync("evaluate", "--model", $"models:/onnx-churn/{version}", "--data", data, "--task", "binary", "--label", "y",
                "--require", "auc > 0.8", "--tracking-uri", uri, "--json");

            Assert.True(result.ExitCode == 0, result.Err);
            Assert.Contains("\"passed\": true", result.Out);
            using var json = System.Text.Json.JsonDocument.Parse(result.Out);
            Assert.Equal(expected.Accuracy, json.RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble(), 6);
        }

        // A source that climbs out of the proxy's root is refused: by the server when it is registered (as MLflow's server
        // refuses relative references), and by the resolver when it was stored some other way (the database opened directly).
        using (var client = await CairnClient.OpenAsync(uri, cancellationToken: Ct))
        {
            var refused = await Assert.ThrowsAsync<InvalidParameterValueException>(() =>
                client.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("onnx-churn", "mlflow-artifacts:/1/../../secrets"), Ct));
            Assert.Contains("relative path references", refused.Message);
        }
        using (var local = await CairnClient.OpenAsync(_dir.Combine("home"), cancellationToken: Ct))
        {
            await local.Registry.CreateRegisteredModelAsync("escape", cancellationToken: Ct);
            await local.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("escape", "mlflow-artifacts:/1/../../secrets"), Ct);
            var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => local.DownloadModelAsync("models:/escape/1", _dir.Combine("escape"), Ct));
            Assert.Contains("'..'", error.Message);
        }
    }
}
