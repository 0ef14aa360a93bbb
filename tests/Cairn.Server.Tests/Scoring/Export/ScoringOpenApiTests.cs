using System.Text.Json;
using Cairn.Server.Scoring;
using Cairn.Server.Scoring.Export;

namespace Cairn.Tests.Scoring.Export;

/// <summary>The bundle's <c>openapi.json</c> for the two kinds of model: named columns (ML.NET) and one tensor (ONNX from Python).</summary>
public sealed class ScoringOpenApiTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_column_model_documents_each_column_with_its_type_in_records_split_rows_and_v2_inputs()
    {
        using var model = ServedModel.Load(ScoringModelsForTests.TrainClassifier(_dir.Combine("clf")), "churn", "3", "models:/churn/3");

        using var json = JsonDocument.Parse(ScoringOpenApi.ToJson(model));
        var schemas = json.RootElement.GetProperty("components").GetProperty("schemas");

        var record = schemas.GetProperty("Record");
        Assert.Equal(["a", "b", "c"], record.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.All(record.GetProperty("properties").EnumerateObject(), p => Assert.Equal("float", p.Value.GetProperty("format").GetString()));
        Assert.False(record.GetProperty("additionalProperties").GetBoolean());
        var infer = schemas.GetProperty("InferRequest").GetProperty("properties").GetProperty("inputs").GetProperty("items").GetProperty("oneOf");
        Assert.Equal(["a", "b", "c"], infer.EnumerateArray().Select(t => t.GetProperty("properties").GetProperty("name").GetProperty("const").GetString()));
        Assert.All(infer.EnumerateArray(), t => Assert.Equal("FP32", t.GetProperty("properties").GetProperty("datatype").GetProperty("default").GetString()));
        Assert.Equal(model.Outputs.Select(o => o.Name), schemas.GetProperty("Prediction").GetProperty("properties").EnumerateObject().Select(p => p.Name));
        Assert.Equal("3", json.RootElement.GetProperty("info").GetProperty("version").GetString());
        // The probes need no key; scoring may.
        Assert.Equal(0, json.RootElement.GetProperty("paths").GetProperty("/health/ready").GetProperty("get").GetProperty("security").GetArrayLength());
    }

    [Fact]
    public void A_single_tensor_model_takes_dataframe_columns_by_position_and_a_tensor_of_its_width()
    {
        using var model = ServedModel.Load(ScoringModelsForTests.WriteMlflowOnnx(_dir.Combine("onnx"), new float[4, 2], [0f, 0f]), "linear", null, "linear");
        Assert.NotNull(model.Tensor);

        using var json = JsonDocument.Parse(ScoringOpenApi.ToJson(model));
        var schemas = json.RootElement.GetProperty("components").GetProperty("schemas");

        var columns = schemas.GetProperty("DataframeSplit").GetProperty("properties").GetProperty("dataframe_split").GetProperty("properties").GetProperty("columns");
        Assert.False(columns.GetProperty("items").TryGetProperty("enum", out _));
        var tensor = schemas.GetProperty("InferRequest").GetProperty("properties").GetProperty("inputs").GetProperty("items").GetProperty("oneOf").EnumerateArray().Single();
        Assert.Equal(model.Tensor.Name, tensor.GetProperty("properties").GetProperty("name").GetProperty("const").GetString());
        var record = schemas.GetProperty("Record").GetProperty("properties");
        Assert.Empty(record.EnumerateObject());
        Assert.Equal("folder", json.RootElement.GetProperty("info").GetProperty("version").GetString());
        Assert.True(json.RootElement.GetProperty("paths").TryGetProperty("/v2/models/linear/infer", out _));
    }
}
