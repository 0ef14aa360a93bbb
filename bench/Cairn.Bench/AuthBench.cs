using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Cairn.Bench;

/// <summary>
/// What access control costs the hottest write: single `log-metric` requests, 8 clients, against a `cairn server` without
/// access control, and against one with `--auth` sending HTTP Basic and a bearer token. Both servers run side by side
/// (each over its own fresh SQLite store) and the three kinds of trial alternate, so load on the machine hits them alike.
/// </summary>
internal static class AuthBench
{
    private const string AdminPassword = "bench-admin-password";

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var work = Path.Combine(options.Work, "auth");
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(Path.Combine(work, "off"));
        Directory.CreateDirectory(Path.Combine(work, "on"));
        Console.WriteLine($"# Cairn access control benchmark ({Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");

        await using var off = await ServerProcess.StartAsync(options.Cli, Path.Combine(work, "off"), Path.Combine(work, "off", "artifacts"));
        await using var on = await ServerProcess.StartAsync(options.Cli, Path.Combine(work, "on"), Path.Combine(work, "on", "artifacts"), ["--auth"],
            new Dictionary<string, string> { ["CAIRN_HOME"] = Path.Combine(work, "on"), ["CAIRN_ADMIN_PASSWORD"] = AdminPassword });

        using var plain = Client(off.BaseAddress, null);
        using var basic = Client(on.BaseAddress, new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + AdminPassword))));
        string token;
        using (var response = await basic.PostAsJsonAsync("api/cairn/v1/tokens", new { name = "bench" }))
        {
            response.EnsureSuccessStatusCode();
            token = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        }
        using var bearer = Client(on.BaseAddress, new AuthenticationHeaderValue("Bearer", token));

        var modes = new (string Name, HttpClient Http)[] { ("auth off", plain), ("HTTP Basic", basic), ("bearer token", bearer) };
        var runs = new Dictionary<string, string>();
        foreach (var (name, http) in modes)
        {
            var experiment = await TrackingBench.CreateExperimentAsync(http, "api/2.0/mlflow/", "auth-bench-" + name.Replace(' ', '-'));
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
            foreach (var (name, http) in modes)
                results[name].Add(await Trial(name, http));

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
