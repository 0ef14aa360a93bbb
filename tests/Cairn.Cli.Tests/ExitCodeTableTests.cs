using Cairn.Cli;
using Cairn.Client;

namespace Cairn.Tests;

/// <summary>
/// The exit-code table (README.md) for every command family: each failure is exactly one line on stderr starting with
/// "error: " and nothing on stdout. Bad input is refused before a store is opened, so the store folder is never created.
/// </summary>
public sealed class ExitCodeTableTests : IDisposable
{
    private readonly CliHarness _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    /// <summary>A tracking URI below the harness's folder that no command may create: bad input must not get that far.</summary>
    private string Untouched => _cli.Home.Combine("never-opened");

    private void AssertUntouched() => Assert.False(Directory.Exists(Untouched), "a store was opened for bad input");

    [Theory]
    [InlineData("experiments", "list", "--view", "archived")]
    [InlineData("experiments", "create")]
    [InlineData("runs", "list", "--filter", "metrics.acc >>> 1")]
    [InlineData("runs", "list", "--filter", "nonsense.key = 1")]
    [InlineData("runs", "list", "--order-by", "metrics.acc SIDEWAYS")]
    [InlineData("runs", "list", "--max-results", "0")]
    [InlineData("runs", "compare", "0123456789abcdef0123456789abcdef")]
    [InlineData("artifacts", "list")]
    [InlineData("models", "list", "--filter", "owner = 'me'")]
    [InlineData("models", "promote", "m", "1", "--alias", "champion", "--require", "auc >= 0.8")]
    [InlineData("models", "promote", "m", "1", "--alias", "champion", "--require", "metrics.auc >= challenger")]
    [InlineData("models", "rollback", "no-alias")]
    [InlineData("evaluate", "--model", "models:/m/1", "--data", "x.csv", "--require", "accuracy >> 1")]
    [InlineData("evaluate", "--model", "models:/m/1")]
    [InlineData("train", "--recipe", "r.yaml", "-j", "0")]
    [InlineData("runs", "list", "--bogus")]
    [InlineData("import", "mlflow", "--backend-store-uri", "mysql://u@h/db", "--artifacts-root", ".")]
    [InlineData("import", "mlflow", "--backend-store-uri", "sqlite:///mlflow.db")]
    public async Task Bad_input_to_a_tracking_command_exits_2_before_a_store_is_opened(params string[] args)
    {
        (await _cli.RunAsync([.. args, "--tracking-uri", Untouched])).FailedWith(ExitCodes.InvalidInput);
        AssertUntouched();
    }

    [Theory]
    [InlineData("gc", "--older-than", "-1")]
    [InlineData("gc")]
    [InlineData("server", "--port", "70000")]
    [InlineData("server", "--log-format", "xml")]
    [InlineData("server", "--allowed-hosts", "http://x.example")]
    [InlineData("server", "--cors-allowed-origins", "ui.example")]
    [InlineData("server", "--allowed-artifact-roots", "/")]
    [InlineData("server", "--max-artifact-size", "0")]
    [InlineData("gc", "--older-than", "0", "--allowed-artifact-roots", "/")]
    [InlineData("completion", "fish")]
    [InlineData("nonsense")]
    public async Task Bad_flags_of_gc_server_and_completion_exit_2(params string[] args)
    {
        (await _cli.RunAsync([.. args, "--backend-store-uri", Untouched])).FailedWith(ExitCodes.InvalidInput);
        AssertUntouched();
    }

    [Theory]
    [InlineData("experiments", "delete", "nope")]
    [InlineData("runs", "list", "--experiment", "nope")]
    [InlineData("runs", "show", "0123456789abcdef0123456789abcdef")]
    [InlineData("artifacts", "list", "0123456789abcdef0123456789abcdef")]
    [InlineData("artifacts", "download", "0123456789abcdef0123456789abcdef")]
    [InlineData("models", "show", "nope")]
    [InlineData("models", "history", "nope")]
    [InlineData("models", "rollback", "nope@champion")]
    [InlineData("evaluate", "--model", "models:/nope/1", "--data", "x.csv")]
    [InlineData("train", "--recipe", "missing.yaml")]
    [InlineData("import", "mlflow", "--backend-store-uri", "sqlite:///missing.db", "--artifacts-root", ".")]
    public async Task What_does_not_exist_exits_3(params string[] args)
    {
        (await _cli.RunAsync(args)).FailedWith(ExitCodes.NotFound);
    }

    [Fact]
    public async Task Existing_names_and_forbidden_states_exit_4()
    {
        (await _cli.RunAsync("experiments", "create", "dup")).Ok();
        (await _cli.RunAsync("experiments", "create", "dup")).FailedWith(ExitCodes.InvalidState);
        // An alias that was set but never moved has nothing to roll back to: INVALID_STATE.
        using (var client = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct))
        {
            await client.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
            await client.Registry.CreateModelVersionAsync(new("m", "models/m/1"), Ct);
            await client.Registry.SetRegisteredModelAliasAsync("m", "champion", "1", cancellationToken: Ct);
        }
        var line = (await _cli.RunAsync("models", "rollback", "m@champion")).FailedWith(ExitCodes.InvalidState);
        Assert.Contains("champion", line);
    }

    [Fact]
    public async Task A_failed_promotion_gate_exits_6_and_moves_nothing()
    {
        using (var client = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct))
        {
            await client.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
            await client.Registry.CreateModelVersionAsync(new("m", "models/m/1"), Ct);
        }
        var line = (await _cli.RunAsync("models", "promote", "m", "1", "--alias", "champion", "--require", "metrics.auc >= 0.8")).FailedWith(ExitCodes.GateFailed);
        Assert.Contains("metrics.auc >= 0.8", line);
        using var after = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct);
        Assert.Empty((await after.Registry.GetRegisteredModelAsync("m", Ct)).Aliases);
    }

    [Fact]
    public async Task A_failed_promotion_gate_on_a_server_exits_6_too()
    {
        // The server answers INVALID_STATE with Cairn's cairn_reason; the transport turns it back into PromotionRefusedException.
        await using var server = await Cairn.Server.Hosting.CairnServer.StartAsync(new Cairn.Server.Hosting.CairnServerOptions
        {
            Port = 0,
            BackendStoreUri = _cli.Home.Combine("server"),
            ArtifactsDestination = _cli.Home.Combine("server", "artifacts"),
        }, Ct);
        var uri = server.Address.ToString().TrimEnd('/');
        using (var client = await CairnClient.OpenAsync(uri, cancellationToken: Ct))
        {
            await client.Registry.CreateRegisteredModelAsync("m", cancellationToken: Ct);
            await client.Registry.CreateModelVersionAsync(new("m", "s3://bucket/models/m/1"), Ct);
        }
        var line = (await _cli.RunAsync("models", "promote", "m", "1", "--alias", "champion", "--require", "metrics.auc >= 0.8",
            "--tracking-uri", uri)).FailedWith(ExitCodes.GateFailed);
        Assert.Contains("metrics.auc >= 0.8", line);
        // Any other INVALID_STATE (here: rolling back an alias that never moved) stays exit 4.
        (await _cli.RunAsync("models", "rollback", "m@champion", "--tracking-uri", uri)).FailedWith(ExitCodes.InvalidState);
    }

    [Fact]
    public async Task What_the_client_cannot_do_is_an_internal_error_70()
    {
        // A run whose artifacts live where no client reads (HDFS), read through a database opened in-process: NOT_IMPLEMENTED
        // (a 501), not bad input. (Runs with artifacts in S3 are read from the bucket: ModelSourceTests.)
        (await _cli.RunAsync("experiments", "create", "remote", "--artifact-location", "hdfs://namenode/prefix")).Ok();
        string runId;
        using (var client = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct))
        {
            await using var run = await client.StartRunAsync("remote", cancellationToken: Ct);
            runId = run.RunId;
        }
        var line = (await _cli.RunAsync("artifacts", "download", runId, "--dest", _cli.Home.Combine("out"))).FailedWith(ExitCodes.Internal);
        Assert.Contains("hdfs://namenode/prefix", line);
    }

    [Fact]
    public async Task An_s3_location_that_cannot_be_reached_exits_5_naming_it()
    {
        (await _cli.RunAsync("experiments", "create", "in-s3", "--artifact-location", "s3://bucket/prefix")).Ok();
        string runId;
        using (var client = await CairnClient.OpenAsync(_cli.Home.Path, cancellationToken: Ct))
        {
            await using var run = await client.StartRunAsync("in-s3", cancellationToken: Ct);
            runId = run.RunId;
        }
        // Nothing listens on port 9 (discard): the bucket cannot be reached, whatever the credentials.
        _cli.SetEnvironment("MLFLOW_S3_ENDPOINT_URL", "http://127.0.0.1:9");
        _cli.SetEnvironment("AWS_ACCESS_KEY_ID", "test");
        _cli.SetEnvironment("AWS_SECRET_ACCESS_KEY", "test");
        var line = (await _cli.RunAsync("artifacts", "download", runId, "--dest", _cli.Home.Combine("out"))).FailedWith(ExitCodes.Unavailable);
        Assert.Contains("s3://bucket/prefix", line);
    }
}

/// <summary>The exit-code table for the data and pipeline commands, run in a repository folder.</summary>
public sealed class DataExitCodeTableTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly CliHarness _cli;

    public DataExitCodeTableTests() => _cli = CliHarness.InFolder(_dir.Path);

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Data_commands_exit_2_for_bad_input_and_3_for_a_missing_path()
    {
        (await _cli.RunAsync("data", "remote", "add", "bad name", "../remote")).FailedWith(ExitCodes.InvalidInput);
        (await _cli.RunAsync("data", "add", "x.csv", "y.csv", "--name", "ds")).FailedWith(ExitCodes.InvalidInput);
        (await _cli.RunAsync("data", "checkout", "--link-type", "teleport")).FailedWith(ExitCodes.InvalidInput);
        (await _cli.RunAsync("data", "add", "missing.csv")).FailedWith(ExitCodes.NotFound);
        // A checkout that would lose workspace changes is refused: INVALID_STATE.
        _dir.Write("m.bin", "v1");
        (await _cli.RunAsync("data", "add", "m.bin")).Ok();
        _dir.Write("m.bin", "v2, not added");
        var line = (await _cli.RunAsync("data", "checkout")).FailedWith(ExitCodes.InvalidState);
        Assert.Contains("m.bin", line);
    }

    [Fact]
    public async Task Repro_status_and_exp_exit_2_for_bad_input_and_3_for_an_unknown_stage()
    {
        _dir.Write("cairn.yaml", "stages:\n  a:\n    cmd: echo hi\n");
        (await _cli.RunAsync("repro", "-j", "0")).FailedWith(ExitCodes.InvalidInput);
        (await _cli.RunAsync("exp", "run", "-j", "0")).FailedWith(ExitCodes.InvalidInput);
        (await _cli.RunAsync("dag", "--format", "svg")).FailedWith(ExitCodes.InvalidInput);
        (await _cli.RunAsync("repro", "nosuch")).FailedWith(ExitCodes.NotFound);
        (await _cli.RunAsync("status", "nosuch")).FailedWith(ExitCodes.NotFound);
        _dir.Write("cairn.yaml", "stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o]\n");
        (await _cli.RunAsync("status")).FailedWith(ExitCodes.InvalidInput);
    }
}
