using System.Text.Json;
using Cairn.Registry;
using Cairn.Storage;

namespace Cairn.Tests;

/// <summary>`cairn deployments` as a user runs it on an embedded store: the canary walk, history, and exit codes for bad input.</summary>
public sealed class DeploymentsCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task SeedAsync(CliHarness cli)
    {
        using var stores = await CairnStores.OpenAsync(cli.Home.Path, new CairnStoreOptions { DefaultArtifactRoot = cli.Home.Combine("artifacts") }, Ct);
        await stores.Registry.CreateRegisteredModelAsync("churn", cancellationToken: Ct);
        for (var i = 1; i <= 2; i++) await stores.Registry.CreateModelVersionAsync(new CreateModelVersionRequest("churn", $"s3://b/churn/{i}"), Ct);
        await stores.Registry.SetRegisteredModelAliasAsync("churn", "champion", "1", cancellationToken: Ct);
        await stores.Registry.SetRegisteredModelAliasAsync("churn", "challenger", "2", cancellationToken: Ct);
    }

    private static JsonElement Deployment(CliResult result) => JsonDocument.Parse(result.Out).RootElement.GetProperty("deployment");

    [Fact]
    public async Task Create_canary_promote_rollback_and_history_as_the_readme_walks_them()
    {
        using var cli = new CliHarness();
        await SeedAsync(cli);

        var created = (await cli.RunAsync("deployments", "create", "churn", "--route", "models:/churn@champion=100", "--shadow", "models:/churn/2",
            "--sticky-header", "X-User-Id", "--user", "ann", "--json")).Ok();
        var d = Deployment(created);
        Assert.Equal(("X-User-Id", "ann", 1), (d.GetProperty("sticky_header").GetString(), d.GetProperty("created_by").GetString(), d.GetProperty("revision").GetInt32()));

        var canary = (await cli.RunAsync("deployments", "canary", "churn", "models:/churn@challenger", "--percent", "10%", "--user", "bob")).Ok();
        Assert.Contains("10%", canary.Out, StringComparison.Ordinal);
        var shown = Deployment((await cli.RunAsync("deployments", "show", "churn", "--json")).Ok());
        Assert.Equal([90, 10], shown.GetProperty("routes").EnumerateArray().Where(r => r.GetProperty("role").GetString() == "primary").Select(r => r.GetProperty("weight").GetInt32()));

        var promoted = (await cli.RunAsync("deployments", "promote", "churn")).Ok();
        Assert.Contains("models:/churn@challenger", promoted.Out, StringComparison.Ordinal);
        var rolledBack = (await cli.RunAsync("deployments", "rollback", "churn", "--json")).Ok();
        Assert.Equal(4, Deployment(rolledBack).GetProperty("revision").GetInt32());

        var updated = (await cli.RunAsync("deployments", "update", "churn", "--route", "models:/churn/1=50", "--route", "models:/churn/2=50", "--no-sticky", "--json")).Ok();
        Assert.False(Deployment(updated).TryGetProperty("sticky_header", out _));

        Assert.Equal(0.1, Deployment((await cli.RunAsync("deployments", "update", "churn", "--log-sample-rate", "0.1", "--json")).Ok()).GetProperty("log_sample_rate").GetDouble());
        Assert.Contains("keeps 0.1 of the requests", (await cli.RunAsync("deployments", "show", "churn")).Ok().Out, StringComparison.Ordinal);
        Assert.False(Deployment((await cli.RunAsync("deployments", "update", "churn", "--log-sample-rate", "default", "--json")).Ok()).TryGetProperty("log_sample_rate", out _));
        Assert.Contains("the server's sample rate", (await cli.RunAsync("deployments", "show", "churn")).Ok().Out, StringComparison.Ordinal);

        var listed = (await cli.RunAsync("deployments", "list")).Ok();
        Assert.Contains("churn", listed.Out, StringComparison.Ordinal);
        var history = JsonDocument.Parse((await cli.RunAsync("deployments", "history", "churn", "--json")).Ok().Out).RootElement.GetProperty("revisions");
        Assert.Equal(["update", "update", "update", "rollback", "promote", "canary", "create"], history.EnumerateArray().Select(r => r.GetProperty("action").GetString()));
        Assert.Equal("bob", history[5].GetProperty("user_id").GetString());
        Assert.Contains("rollback to 2", (await cli.RunAsync("deployments", "history", "churn")).Ok().Out, StringComparison.Ordinal);

        (await cli.RunAsync("deployments", "delete", "churn")).Ok();
        Assert.Equal(Cairn.Cli.ExitCodes.NotFound, (await cli.RunAsync("deployments", "show", "churn")).ExitCode);
    }

    [Theory]
    [InlineData(2, "'--route'", "deployments", "create", "d", "--route", "models:/churn@champion")]
    [InlineData(2, "not a whole number", "deployments", "create", "d", "--route", "models:/churn@champion=all")]
    [InlineData(2, "sum to 90", "deployments", "create", "d", "--route", "models:/churn/1=90")]
    [InlineData(2, "at least one primary", "deployments", "create", "d", "--shadow", "models:/churn/1")]
    [InlineData(2, "not a models:/ URI", "deployments", "create", "d", "--route", "runs:/0123456789abcdef0123456789abcdef/model=100")]
    [InlineData(2, "not both", "deployments", "create", "d", "--route", "models:/churn/1=100", "--sticky-header", "X-A", "--sticky-field", "a")]
    [InlineData(2, "may only contain", "deployments", "create", "a/b", "--route", "models:/churn/1=100")]
    [InlineData(2, "'--percent'", "deployments", "canary", "d", "models:/churn/2", "--percent", "100%")]
    [InlineData(2, "sets nothing", "deployments", "update", "d")]
    [InlineData(2, "'--log-sample-rate'", "deployments", "create", "d", "--route", "models:/churn/1=100", "--log-sample-rate", "1.5")]
    [InlineData(2, "'--log-sample-rate'", "deployments", "create", "d", "--route", "models:/churn/1=100", "--log-sample-rate", "default")]
    [InlineData(2, "'--log-sample-rate'", "deployments", "update", "d", "--log-sample-rate", "half")]
    [InlineData(3, "'ghost'", "deployments", "create", "d", "--route", "models:/ghost@champion=100")]
    [InlineData(3, "'nope'", "deployments", "rollback", "nope")]
    [InlineData(3, "'nope'", "deployments", "delete", "nope")]
    [InlineData(4, "no earlier routing", "deployments", "rollback", "existing")]
    [InlineData(4, "No canary is running", "deployments", "promote", "existing")]
    [InlineData(4, "already exists", "deployments", "create", "existing", "--route", "models:/churn/1=100")]
    public async Task Bad_input_and_missing_things_exit_with_their_code_and_one_line(int code, string message, params string[] args)
    {
        using var cli = new CliHarness();
        await SeedAsync(cli);
        (await cli.RunAsync("deployments", "create", "existing", "--route", "models:/churn@champion=100")).Ok();
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == code, $"{string.Join(' ', args)} exited {result.ExitCode}: {result.Err}");
        Assert.Contains(message, result.Err, StringComparison.Ordinal);
        Assert.Single(result.ErrLines);
        Assert.Equal("", result.Out);
    }
}
