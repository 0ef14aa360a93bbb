using System.Text.Json;
using Cairn.Cli;
using Cairn.Server.Hosting;

namespace Cairn.Tests;

/// <summary><c>cairn tokens</c> and <c>cairn server</c>'s access control flags, against a real server on 127.0.0.1.</summary>
public sealed class TokensCommandTests : IAsyncLifetime
{
    private const string AdminPassword = "admin-password-1";
    private readonly CliHarness _cli = new();
    private CairnServer? _server;

    private CairnServer Server => _server!;

    public async ValueTask InitializeAsync()
    {
        var settings = new CairnServerOptions
        {
            Port = 0, Auth = true, BackendStoreUri = _cli.Home.Combine("server"), ArtifactsDestination = _cli.Home.Combine("server", "artifacts"),
            LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
        }.ToSettings();
        settings["CAIRN_HOME"] = _cli.Home.Combine("server");
        settings["CAIRN_ADMIN_PASSWORD"] = AdminPassword;
        _server = await CairnServer.StartAsync(settings, cancellationToken: TestContext.Current.CancellationToken);
        _cli.SetEnvironment("MLFLOW_TRACKING_URI", Server.Address.ToString());
        _cli.SetEnvironment("MLFLOW_TRACKING_USERNAME", "admin");
        _cli.SetEnvironment("MLFLOW_TRACKING_PASSWORD", AdminPassword);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _cli.Dispose();
    }

    [Fact]
    public async Task Create_list_and_revoke_with_the_environments_credentials()
    {
        var created = (await _cli.RunAsync("tokens", "create", "ci")).Ok();
        var token = created.Out.Trim();
        Assert.StartsWith("cairn_", token, StringComparison.Ordinal);
        Assert.Contains("shown only this once", created.Err, StringComparison.Ordinal);

        var listed = (await _cli.RunAsync("tokens", "list", "--json")).Ok();
        var entry = Assert.Single(JsonDocument.Parse(listed.Out).RootElement.GetProperty("tokens").EnumerateArray());
        Assert.Equal("ci", entry.GetProperty("name").GetString());
        Assert.DoesNotContain(token, listed.Out, StringComparison.Ordinal);
        var id = entry.GetProperty("id").GetString()!;
        Assert.Contains(id, (await _cli.RunAsync("tokens", "list")).Ok().Out, StringComparison.Ordinal);

        // The token alone authenticates every command that talks to the server.
        _cli.SetEnvironment("MLFLOW_TRACKING_USERNAME", null);
        _cli.SetEnvironment("MLFLOW_TRACKING_PASSWORD", null);
        _cli.SetEnvironment("MLFLOW_TRACKING_TOKEN", token);
        Assert.Contains("Default", (await _cli.RunAsync("experiments", "list")).Ok().Out, StringComparison.Ordinal);

        Assert.Contains(id, (await _cli.RunAsync("tokens", "revoke", id)).Ok().Out, StringComparison.Ordinal);
        // Revoked with itself: the very next command is refused.
        var refused = (await _cli.RunAsync("tokens", "list")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("revoked", refused, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Bad_credentials_bad_ids_and_a_local_store_are_one_line_errors()
    {
        _cli.SetEnvironment("MLFLOW_TRACKING_PASSWORD", "wrong-password");
        Assert.Contains("Invalid username or password", (await _cli.RunAsync("tokens", "list")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        _cli.SetEnvironment("MLFLOW_TRACKING_PASSWORD", AdminPassword);

        Assert.Contains("token id", (await _cli.RunAsync("tokens", "revoke", "../users")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("not found", (await _cli.RunAsync("tokens", "revoke", "0123456789abcdef")).FailedWith(ExitCodes.NotFound), StringComparison.Ordinal);

        Assert.Contains("MLFLOW_TRACKING_URI", (await _cli.RunAsync("tokens", "list", "--tracking-uri", _cli.Home.Combine("local"))).FailedWith(ExitCodes.InvalidInput),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_refuses_a_public_address_without_auth_or_insecure()
    {
        var line = (await _cli.RunAsync("server", "--host", "0.0.0.0", "--port", "0")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("--auth", line, StringComparison.Ordinal);
        Assert.Contains("--insecure", line, StringComparison.Ordinal);
    }
}
