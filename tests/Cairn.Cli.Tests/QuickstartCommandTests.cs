using System.Text.Json;

namespace Cairn.Tests;

public sealed class QuickstartCommandTests
{
    [Fact]
    public async Task Quickstart_logs_a_sweep_into_cairn_home_and_says_where_to_look()
    {
        using var cli = new CliHarness();

        var result = (await cli.RunAsync("quickstart", "--port", "0")).Ok();

        Assert.Contains("Logged 6 runs into experiment quickstart", result.Out, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(cli.Home.Path, "cairn.db"), result.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(cli.Home.Combine("cairn.db")));
        // What it logged is in the embedded store, readable without the server.
        var listed = (await cli.RunAsync("runs", "list", "--experiment", "quickstart", "--json")).Ok();
        using var json = JsonDocument.Parse(listed.Out);
        var runs = json.RootElement.ValueKind == JsonValueKind.Array ? json.RootElement : json.RootElement.GetProperty("runs");
        Assert.Equal(6, runs.GetArrayLength());
        Assert.All(runs.EnumerateArray(), r => Assert.Equal("FINISHED", r.GetProperty("info").GetProperty("status").GetString()));
    }
}
