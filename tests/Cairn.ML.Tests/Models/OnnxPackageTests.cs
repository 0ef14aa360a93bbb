using Cairn.ML.Models;

namespace Cairn.Tests.Models;

public sealed class OnnxPackageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    // What mlflow.onnx.log_model (MLflow 2.x) writes next to model.onnx.
    private const string PythonMlmodel = """
        artifact_path: model
        flavors:
          onnx:
            code: null
            onnx_model: model.onnx
            onnx_version: 1.15.0
            providers:
            - CUDAExecutionProvider
            - CPUExecutionProvider
          python_function:
            data: model.onnx
            env:
              conda: conda.yaml
              virtualenv: python_env.yaml
            loader_module: mlflow.onnx
            python_version: 3.10.12
        mlflow_version: 2.9.2
        model_uuid: 5b3c0e2a9f4e4d7c8a1b2c3d4e5f6a7b
        run_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
        signature:
          inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}, "name": "X"}]'
          outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}, "name": "Y"}]'
          params: null
        utc_time_created: '2024-01-15 10:20:30.123456'
        """;

    private static readonly float[,] W = { { 1f, 2f }, { 3f, 4f }, { 5f, 6f } };
    private static readonly float[] B = [0.5f, -1f];

    private string WritePythonPackage()
    {
        var folder = _dir.Combine("onnx-model");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), OnnxFixture.LinearModel(W, B));
        File.WriteAllText(Path.Combine(folder, "MLmodel"), PythonMlmodel);
        return folder;
    }

    [Fact]
    public void Package_written_by_mlflow_onnx_loads_and_predicts_X_times_W_plus_B()
    {
        using var package = ModelPackage.Load(WritePythonPackage());

        Assert.Equal("onnx", package.Predictor.Flavor);
        Assert.Equal("0f1e2d3c4b5a69788796a5b4c3d2e1f0", package.Manifest.RunId);
        Assert.Equal(["CUDAExecutionProvider", "CPUExecutionProvider"], ((List<object>)package.Manifest.Flavors["onnx"]["providers"]!).Cast<string>());
        Assert.Contains("python_function", package.Manifest.Flavors.Keys);
        var input = Assert.Single(package.Manifest.Inputs);
        Assert.Equal(("X", "tensor", "float32"), (input.Name, input.Type, input.TensorType));
        Assert.Equal([-1L, 3L], input.Shape);

        var x = new[] { new[] { 1f, 0f, 0f }, new[] { 1f, 2f, 3f }, new[] { -1f, 0.5f, 2f } };
        var output = package.Predictor.Predict(new ColumnBatch().Add("X", x));

        var y = Assert.IsType<float[][]>(output["Y"]);
        for (var r = 0; r < x.Length; r++)
            for (var j = 0; j < 2; j++)
            {
                var expected = B[j] + x[r][0] * W[0, j] + x[r][1] * W[1, j] + x[r][2] * W[2, j];
                Assert.Equal(expected, y[r][j], 4);
            }
    }

    [Fact]
    public void Onnx_model_with_one_matrix_input_accepts_one_column_per_feature()
    {
        using var package = ModelPackage.Load(WritePythonPackage());
        var output = package.Predictor.Predict(new ColumnBatch().Add("a", new[] { 1.0, 1.0 }).Add("b", new[] { 0.0, 2.0 }).Add("c", new[] { 0.0, 3.0 }));
        var y = (float[][])output["Y"];
        Assert.Equal(1.5f, y[0][0], 4);
        Assert.Equal(1 + 6 + 15 + 0.5f, y[1][0], 4);
    }

    [Fact]
    public void Mlp_graph_of_gemm_relu_and_softmax_predicts_what_the_same_arithmetic_gives()
    {
        var random = new Random(3);
        float[,] Matrix(int rows, int columns)
        {
            var m = new float[rows, columns];
            for (var i = 0; i < rows; i++)
                for (var j = 0; j < columns; j++) m[i, j] = (float)(random.NextDouble() * 2 - 1);
            return m;
        }
        float[] Vector(int length) => Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        (float[,] W, float[] B)[] layers = [(Matrix(4, 6), Vector(6)), (Matrix(6, 5), Vector(5)), (Matrix(5, 3), Vector(3))];
        var folder = _dir.Combine("mlp");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), OnnxFixture.MlpModel(layers));
        var manifest = new ModelManifest
        {
            Inputs = [new ColumnSpec("X", "tensor", "float32", [-1, 4])],
            Outputs = [new ColumnSpec("probabilities", "tensor", "float32", [-1, 3])],
        };
        manifest.Flavors["onnx"] = new(StringComparer.Ordinal) { ["onnx_model"] = "model.onnx" };
        manifest.Save(folder);
        using var package = ModelPackage.Load(folder);
        var x = Enumerable.Range(0, 5).Select(_ => Vector(4).Select(v => v * 4).ToArray()).ToArray();

        var output = Assert.IsType<float[][]>(package.Predictor.Predict(new ColumnBatch().Add("X", x))["probabilities"]);

        for (var r = 0; r < x.Length; r++)
        {
            var h = x[r].Select(v => (double)v).ToArray();
            for (var l = 0; l < layers.Length; l++)
            {
                var (w, b) = layers[l];
                var next = new double[b.Length];
                for (var j = 0; j < b.Length; j++)
                {
                    next[j] = b[j];
                    for (var i = 0; i < h.Length; i++) next[j] += h[i] * w[i, j];
                    if (l < layers.Length - 1) next[j] = Math.Max(0, next[j]);
                }
                h = next;
            }
            var exp = h.Select(v => Math.Exp(v - h.Max())).ToArray();
            for (var j = 0; j < 3; j++) Assert.Equal(exp[j] / exp.Sum(), output[r][j], 4);
        }
    }

    [Fact]
    public void Mlp_graph_with_layers_that_do_not_chain_is_refused_naming_the_layer()
    {
        var e = Assert.Throws<ArgumentException>(() => OnnxFixture.MlpModel([(new float[4, 6], new float[6]), (new float[5, 2], new float[2])]));
        Assert.Contains("Layer 1 takes 5 inputs; layer 0 gives 6", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Manifest_round_trips_flavors_signature_and_run_id()
    {
        var folder = WritePythonPackage();
        var manifest = ModelManifest.Load(folder);
        var copy = _dir.Combine("copy");
        Directory.CreateDirectory(copy);
        manifest.Save(copy);

        var again = ModelManifest.Load(copy);
        Assert.Equal(manifest.RunId, again.RunId);
        Assert.Equal(manifest.ModelUuid, again.ModelUuid);
        Assert.Equal(manifest.Inputs, again.Inputs, (a, b) => a.Name == b.Name && a.TensorType == b.TensorType && a.Shape!.SequenceEqual(b.Shape!));
        Assert.Equal("model.onnx", again.FlavorValue("onnx", "onnx_model"));
        Assert.Equal("mlflow.onnx", ((Dictionary<object, object?>)again.Flavors["python_function"]["env"]!).Count == 2 ? again.FlavorValue("python_function", "loader_module") : null);
        Assert.Equal(new DateTime(2024, 1, 15, 10, 20, 30, DateTimeKind.Utc), again.UtcTimeCreated.AddTicks(-(again.UtcTimeCreated.Ticks % TimeSpan.TicksPerSecond)));
    }

    [Fact]
    public void Manifest_strings_that_look_like_other_yaml_values_come_back_as_the_same_strings()
    {
        string[] awkward = ["yes", "No", "ON", "y", "null", "~", "", "123", "0x1F", "1e5", "-7", ".inf", "2024-01-15", "12:30:00", "a: b", "#hash",
            "- dash", " padded ", "it's", "\"quoted\"", "two\nlines", "tab\there", "[1, 2]", "{a: 1}", "@at", "`tick", "!tag", "&anchor", "*alias",
            "%percent", "|pipe", ">fold", "?q", "ünïcödé", "emoji 🙂", "back\\slash", "model.zip", "plain_name", "/abs/path"];
        var manifest = new ModelManifest { RunId = "0123456789", ModelUuid = "1e10" };
        manifest.Flavors["mlnet"] = new(StringComparer.Ordinal) { ["model_file"] = "model.zip", ["count"] = 3, ["ratio"] = 0.25, ["on"] = true };
        manifest.Metadata["values"] = awkward.ToList();
        manifest.Metadata["nothing"] = null;
        var folder = _dir.Combine("awkward");
        Directory.CreateDirectory(folder);
        manifest.Save(folder);

        var again = ModelManifest.Load(folder);
        Assert.Equal(awkward, ((List<object>)again.Metadata["values"]!).Cast<string>());
        Assert.Null(again.Metadata["nothing"]);
        Assert.Equal("0123456789", again.RunId);
        Assert.Equal("1e10", again.ModelUuid);
        Assert.Equal("3", again.FlavorValue("mlnet", "count"));
        Assert.Equal("0.25", again.FlavorValue("mlnet", "ratio"));
        Assert.Equal("true", again.FlavorValue("mlnet", "on"));
        var text = File.ReadAllText(Path.Combine(folder, ModelManifest.FileName));
        Assert.Contains("model_file: model.zip\n", text, StringComparison.Ordinal);
        Assert.Contains("- 'yes'\n", text, StringComparison.Ordinal);
        Assert.Contains("run_id: '0123456789'\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_onnx_package_is_evaluated_from_a_csv_with_task_and_label_given()
    {
        var folder = WritePythonPackage();
        var csv = new System.Text.StringBuilder("a,b,c,target\n");
        var random = new Random(5);
        for (var i = 0; i < 200; i++)
        {
            double a = random.NextDouble(), b = random.NextDouble(), c = random.NextDouble();
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{a},{b},{c},{a * W[0, 0] + b * W[1, 0] + c * W[2, 0] + B[0]}\n");
        }
        File.WriteAllText(_dir.Combine("scored.csv"), csv.ToString());
        using var client = Cairn.Client.CairnClient.Open(_dir.Combine("store"));

        var result = await Cairn.ML.Evaluation.Evaluator.RunAsync(folder, _dir.Combine("scored.csv"), client, new Cairn.ML.Evaluation.EvaluationOptions
        {
            Task = Cairn.ML.Training.MlTask.Regression, Label = "target", Requirements = ["r2 >= 0.9999", "rmse < 0.001"],
        }, TestContext.Current.CancellationToken);

        Assert.True(result.Passed, string.Join(", ", result.Metrics));
        var run = await client.Store.GetRunAsync(result.RunId, TestContext.Current.CancellationToken);
        Assert.Contains(run.Data.Params, p => p is { Key: "model", Value: var v } && v == folder);
    }

    [Fact]
    public void Folder_without_MLmodel_is_a_clear_error()
    {
        var e = Assert.Throws<ResourceDoesNotExistException>(() => ModelPackage.Load(_dir.Path));
        Assert.Contains("MLmodel", e.Message);
    }

    public void Dispose() => _dir.Dispose();
}
