using System.Text;
using System.Text.Json;
using Cairn.ML.Models;
using Cairn.Server.Scoring;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;

namespace Cairn.Tests.Scoring;

/// <summary>A real scoring server (<c>cairn serve</c>'s host) on 127.0.0.1 and a free port, serving one model.</summary>
public sealed class ScoringHost : IAsyncDisposable
{
    private ScoringHost(ScoringServer server)
    {
        Server = server;
        Http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(1) };
    }

    public ScoringServer Server { get; }

    public HttpClient Http { get; }

    public static async Task<ScoringHost> StartAsync(ServedModel? model, IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Cairn:Server:Host"] = "127.0.0.1",
            ["Cairn:Server:Port"] = "0",
            ["Cairn:Logging:Level"] = "Critical",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) all[key] = value;
        var server = await ScoringServer.StartAsync(all, services, TestContext.Current.CancellationToken);
        if (model is not null) server.Serve(model);
        return new ScoringHost(server);
    }

    public async Task<(int Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string path, string body, string contentType = "application/json", string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, contentType) };
        if (bearer is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        JsonElement json;
        try
        {
            json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            json = JsonSerializer.SerializeToElement(text);
        }
        return ((int)response.StatusCode, json, response);
    }

    public async Task<JsonElement> OkAsync(string path, string body, string contentType = "application/json")
    {
        var (status, json, _) = await PostAsync(path, body, contentType);
        Assert.True(status == 200, $"{path} answered {status}: {json}");
        return json;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>Small real models for the scoring tests: an ML.NET FastTree classifier trained here, and ONNX packages.</summary>
public static class ScoringModelsForTests
{
    public sealed class Row
    {
        public float a;
        public float b;
        public float c;
        public bool Label;
    }

    /// <summary>A FastTree binary classifier on columns a, b, c (label: a + b > c), saved as an ML.NET package.</summary>
    public static string TrainClassifier(string folder)
    {
        var random = new Random(7);
        var rows = Enumerable.Range(0, 400).Select(_ =>
        {
            var row = new Row { a = (float)random.NextDouble(), b = (float)random.NextDouble(), c = (float)(random.NextDouble() * 2) };
            row.Label = row.a + row.b > row.c;
            return row;
        }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.Concatenate("Features", "a", "b", "c")
            .Append(ml.BinaryClassification.Trainers.FastTree(numberOfLeaves: 4, numberOfTrees: 10, minimumExampleCountPerLeaf: 5));
        var model = pipeline.Fit(data);
        ModelPackage.SaveMlNet(folder, ml, model, data.Schema, [new ColumnSpec("a", "float"), new ColumnSpec("b", "float"), new ColumnSpec("c", "float")]);
        return folder;
    }

    /// <summary>
    /// What <c>mlflow.onnx.log_model</c> writes for a graph Y = X·W + B of <paramref name="w"/> (inputs x outputs): MLmodel with
    /// the onnx and python_function flavors and a tensor signature, no Cairn metadata.
    /// </summary>
    public static string WriteMlflowOnnx(string folder, float[,] w, float[] b)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), Cairn.Tests.Models.OnnxFixture.LinearModel(w, b));
        File.WriteAllText(Path.Combine(folder, "MLmodel"), $$"""
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
            run_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
            signature:
              inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, {{w.GetLength(0)}}]}, "name": "X"}]'
              outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, {{w.GetLength(1)}}]}, "name": "Y"}]'
              params: null
            utc_time_created: '2024-03-01 10:20:30.123456'
            """);
        return folder;
    }
}
