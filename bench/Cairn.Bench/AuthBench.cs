using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Cairn.Bench;

/// <summary>
/// What access control costs the hottest write: single `log-metric` requests, 8 clients, from a team member (not an admin,
/// so every request goes through the permission check on the run's experiment, which the member created). Three
/// `cairn server` processes run side by side, each over its own fresh SQLite store so none grows faster than another: one
/// without access control, one with `--auth` called with HTTP Basic, one with `--auth` called with a bearer token. Trials
/// rotate which server goes first each round, so neither load nor order favours one.
/// </summary>
internal static class AuthBench
{
    private const string AdminPassword = "bench-admin-password";
    private const string MemberPassword = "bench-member-password";

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var work = Path.Combine(options.Work, "auth");
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Console.WriteLine($"# Cairn access control benchmark ({Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");

        await using var off = await StartAsync(options, work, "off", auth: false);
        await using var basicServer = await StartAsync(options, work, "basic", auth: true);
        await using var tokenServer = await StartAsync(options, work, "token", auth: true);

        using var plain = Client(off.BaseAddress, null);
        using var basic = await MemberAsync(basicServer.BaseAddress);
        using var memberOnTokenServer = await MemberAsync(tokenServer.BaseAddress);
        string token;
        using (var response = await memberOnTokenServer.PostAsJsonAsync("api/cairn/v1/tokens", new { name = "bench" }))
        {
            response.EnsureSuccessStatusCode();
            token = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        }
        using var bearer = Client(tokenServer.BaseAddress, new AuthenticationHeaderValue("Bearer", token));

        var modes = new (string Name, HttpClient Http)[] { ("auth off", plain), ("HTTP Basic (member)", basic), ("bearer token (member)", bearer) };
        var runs = new Dictionary<string, string>();
        foreach (var (name, http) in modes)
        {
            // The member creates the experiment, so holds MANAGE on it through a grant, as a team member would.
            var experiment = await TrackingBench.CreateExperimentAsync(http, "api/2.0/mlflow/", "auth-bench");
            runs[name] = await TrackingBench.CreateRunAsync(http, "api/2.0/mlflow/", experiment);
        }

        var step = 0L;
        Task<double> Trial(string name, HttpClient http) => TrackingBench.ThroughputAsync(8, options.Seconds, _ =>
        {
            var body = $$"""{"run_id":"{{runs[name]}}","key":"loss","value":{{Random.Shared.NextDouble().ToString(CultureInfo.InvariantCulture)}},"timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}},"step":{{Interlocked.Increment(ref step)}}}""";
            return http.PostAsync("api/2.0/mlflow/runs/log-metric", new StringContent(body, Encoding.UTF8, "application/json"));
        });

        foreach (var (name, http) in modes) await Trial(name, http); // warm-up: JIT, connection pools, the credential cache
        var results = modes.ToDictionary(m => m.Name, _ => new List<double>());
        for (var round = 0; round < options.Trials; round++)
            for (var i = 0; i < modes.Length; i++)
            {
                var (name, http) = modes[(round + i) % modes.Length];
                results[name].Add(await Trial(name, http));
            }

        var baseline = Median(results["auth off"]);
        Console.WriteLine();
        Console.WriteLine($"| single `log-metric`, 8 clients (median of {options.Trials} rounds of {options.Seconds} s) | req/s | vs auth off |");
        Console.WriteLine("|---|---|---|");
        foreach (var (name, _) in modes)
        {
            var median = Median(results[name]);
            Console.WriteLine($"| {name} | {median:N0} | {median / baseline - 1:+0.0%;-0.0%;0.0%} |");
        }
        Console.WriteLine();
        foreach (var (name, _) in modes)
            Console.WriteLine($"{name}: rounds {string.Join(", ", results[name].Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}");

        await CheckCostAsync(work);
        return 0;
    }

    private static Task<ServerProcess> StartAsync(BenchOptions options, string work, string name, bool auth)
    {
        var home = Path.Combine(work, name);
        Directory.CreateDirectory(home);
        return auth
            ? ServerProcess.StartAsync(options.Cli, ServerProcess.ServerArgs(home, Path.Combine(home, "artifacts"), "--auth"),
                environment: new Dictionary<string, string?> { ["CAIRN_HOME"] = home, ["CAIRN_ADMIN_PASSWORD"] = AdminPassword })
            : ServerProcess.StartAsync(options.Cli, ServerProcess.ServerArgs(home, Path.Combine(home, "artifacts")));
    }

    /// <summary>Creates the member "bench" (as the admin) and answers a client that sends the member's Basic credentials.</summary>
    private static async Task<HttpClient> MemberAsync(Uri server)
    {
        using (var admin = Client(server, BasicHeader("admin", AdminPassword)))
        using (var response = await admin.PostAsJsonAsync("api/2.0/mlflow/users/create", new { username = "bench", password = MemberPassword }))
            response.EnsureSuccessStatusCode();
        return Client(server, BasicHeader("bench", MemberPassword));
    }

    private static AuthenticationHeaderValue BasicHeader(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));

    /// <summary>
    /// The CPU time of the check itself, in this process and without HTTP: what a request with cached credentials pays,
    /// which on a loaded machine is steadier than throughput differences.
    /// </summary>
    private static async Task CheckCostAsync(string work)
    {
        using var stores = await Cairn.Storage.CairnStores.OpenAsync(Path.Combine(work, "direct"));
        var passwords = new Cairn.Server.Auth.CairnPasswords();
        var cache = new Cairn.Server.Auth.CredentialCache(TimeProvider.System);
        var authenticator = new Cairn.Server.Auth.CairnAuthenticator(stores.Users, passwords, cache, new Cairn.Server.Auth.LoginRateLimiter(TimeProvider.System));
        var user = await stores.Users.CreateUserAsync("bench", passwords.Hash(AdminPassword));
        var secret = Cairn.Auth.AccessTokens.NewSecret();
        await stores.Users.CreateTokenAsync(user.Id, "bench", Cairn.Auth.AccessTokens.Hash(secret));
        var address = System.Net.IPAddress.Loopback;
        Console.WriteLine();
        foreach (var (name, header) in new[] { ("HTTP Basic", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("bench:" + AdminPassword))), ("bearer token", "Bearer " + secret) })
        {
            var first = System.Diagnostics.Stopwatch.StartNew();
            if (await authenticator.AuthenticateAsync(header, address, CancellationToken.None) is not Cairn.Server.Auth.CairnAuthenticator.Authenticated)
                throw new InvalidOperationException(name + " was refused");
            var uncached = first.Elapsed.TotalMilliseconds;
            const int Calls = 200_000;
            var samples = new List<double>();
            for (var round = 0; round < 5; round++)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                for (var i = 0; i < Calls; i++) await authenticator.AuthenticateAsync(header, address, CancellationToken.None);
                samples.Add(sw.Elapsed.TotalMicroseconds / Calls);
            }
            Console.WriteLine($"{name}: first check (database{(name == "HTTP Basic" ? ", PBKDF2" : ", SHA-256")}) {uncached:F1} ms; cached check {Median(samples):F2} µs per request (median of 5 x {Calls:N0})");
        }
    }

    private static HttpClient Client(Uri baseAddress, AuthenticationHeaderValue? authorization)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = baseAddress };
        http.DefaultRequestHeaders.Authorization = authorization;
        return http;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[sorted.Count / 2];
    }
}
