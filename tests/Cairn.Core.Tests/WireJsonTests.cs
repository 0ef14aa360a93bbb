using System.Text.Json;
using Cairn.Contracts;

namespace Cairn.Tests;

public sealed class WireJsonTests
{
    [Fact]
    public void Wire_json_keeps_quotes_and_writes_nan_as_protobuf_does()
    {
        var text = JsonSerializer.Serialize(new ErrorResponse { ErrorCode = "X", Message = "key='a' > 1" }, MlflowJson.Wire.ErrorResponse);
        Assert.Equal("""{"error_code":"X","message":"key='a' > 1"}""", text);
        var metric = JsonSerializer.Serialize(new MetricMessage { Key = "m", Value = double.NaN, Timestamp = 1, Step = 0 }, MlflowJson.Wire.MetricMessage);
        Assert.Equal("""{"key":"m","value":"NaN","timestamp":1,"step":0}""", metric);
    }
}
