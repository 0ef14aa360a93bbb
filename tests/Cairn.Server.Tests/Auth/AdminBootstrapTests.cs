using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Tests.Auth;

/// <summary>The first admin: from CAIRN_ADMIN_PASSWORD, or a one-time password in a file only its owner reads, whose path (not content) is logged.</summary>
public sealed class AdminBootstrapTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class CapturingLogger<T> : ILogger<T>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines) Lines.Add(formatter(state, exception) + " " + string.Join(" ", (state as IEnumerable<KeyValuePair<string, object?>>)?.Select(kv => kv.Value) ?? []));
        }
    }

    private static async Task<(ServerStores Stores, CapturingLogger<AdminBootstrap> Log)> BootAsync(string home, Dictionary<string, string?> environment)
    {
        var stores = new ServerStores(Options.Create(new ServerStoreOptions { BackendStoreUri = home, ArtifactsDestination = Path.Combine(home, "artifacts") }));
        await stores.StartingAsync(Ct);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>(environment) { ["CAIRN_HOME"] = home }).Build();
        var log = new CapturingLogger<AdminBootstrap>();
        var options = Options.Create(new CairnAuthOptions { Enabled = true, AdminUsername = environment.GetValueOrDefault("CAIRN_ADMIN_USERNAME") ?? "admin" });
        await new AdminBootstrap(stores, new CairnPasswords(), options, configuration, log).StartingAsync(Ct);
        return (stores, log);
    }

    [Fact]
    public async Task Without_CAIRN_ADMIN_PASSWORD_a_one_time_password_goes_to_an_owner_only_file_and_only_its_path_is_logged()
    {
        using var home = new TempDirectory();
        var (stores, log) = await BootAsync(home.Path, []);
        using (stores)
        {
            var file = Path.Combine(home.Path, AdminBootstrap.PasswordFileName);
            var password = File.ReadAllText(file).Trim();
            Assert.True(password.Length >= 16, "the generated password is short");
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            var line = Assert.Single(log.Lines);
            Assert.Contains(file, line, StringComparison.Ordinal);
            Assert.DoesNotContain(password, line, StringComparison.Ordinal);

            var (user, hash) = (await stores.Users.FindCredentialsAsync("admin", Ct))!.Value;
            Assert.True(user.IsAdmin);
            Assert.True(new CairnPasswords().Verify(hash, password));
            Assert.DoesNotContain(password, hash, StringComparison.Ordinal);
        }

        // The next start finds a user: no new password, no file rewritten, nothing logged.
        var before = File.ReadAllText(Path.Combine(home.Path, AdminBootstrap.PasswordFileName));
        var (again, secondLog) = await BootAsync(home.Path, []);
        using (again)
        {
            Assert.Empty(secondLog.Lines);
            Assert.Equal(before, File.ReadAllText(Path.Combine(home.Path, AdminBootstrap.PasswordFileName)));
            Assert.Single(await again.Users.ListUsersAsync(Ct));
        }
    }

    [Fact]
    public async Task With_CAIRN_ADMIN_USERNAME_and_PASSWORD_that_admin_is_created_and_no_file_written()
    {
        using var home = new TempDirectory();
        var (stores, log) = await BootAsync(home.Path, new() { ["CAIRN_ADMIN_USERNAME"] = "root", ["CAIRN_ADMIN_PASSWORD"] = "from-the-environment" });
        using (stores)
        {
            Assert.False(File.Exists(Path.Combine(home.Path, AdminBootstrap.PasswordFileName)));
            Assert.DoesNotContain("from-the-environment", Assert.Single(log.Lines), StringComparison.Ordinal);
            var (user, hash) = (await stores.Users.FindCredentialsAsync("root", Ct))!.Value;
            Assert.True(user.IsAdmin);
            Assert.True(new CairnPasswords().Verify(hash, "from-the-environment"));
        }
    }

    [Fact]
    public async Task A_too_short_CAIRN_ADMIN_PASSWORD_stops_the_start_naming_the_variable()
    {
        using var home = new TempDirectory();
        var error = await Assert.ThrowsAsync<InvalidParameterValueException>(() => BootAsync(home.Path, new() { ["CAIRN_ADMIN_PASSWORD"] = "short" }));
        Assert.Contains("CAIRN_ADMIN_PASSWORD", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_started_with_auth_and_no_password_can_be_logged_into_with_the_files_password()
    {
        await using var server = await RunningServer.StartAsync(o => o.Auth = true);
        var password = File.ReadAllText(Path.Combine(server.Home, AdminBootstrap.PasswordFileName)).Trim();
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/2.0/mlflow/experiments/get?experiment_id=0");
        request.Headers.Authorization = AuthServer.Basic("admin", password);
        using var response = await server.Http.SendAsync(request, Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
