using System.Text.Json;

namespace Cairn.Tests.Hosting;

public sealed class OpenApiTests
{
    [Fact]
    public async Task The_document_at_openapi_cairn_json_lists_Cairns_own_routes_and_not_MLflows()
    {
        await using var server = await RunningServer.StartAsync();
        using var response = await server.Http.GetAsync("openapi/cairn.json", TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, text);

        var document = JsonDocument.Parse(text).RootElement;
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/cairn/v1/registry/promote").TryGetProperty("post", out _), text);
        Assert.True(paths.GetProperty("/api/cairn/v1/registry/audit").TryGetProperty("get", out _), text);
        Assert.DoesNotContain(paths.EnumerateObject(), p => p.Name.StartsWith("/api/2.0/", StringComparison.Ordinal));
        // Schemas in the wire's snake_case, as the contracts are serialized.
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("ModelVersionResponse").GetProperty("properties").TryGetProperty("model_version", out _), text);
        Assert.True(schemas.GetProperty("RegistryRequest").GetProperty("properties").TryGetProperty("new_name", out _), text);
    }
}
