using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Cairn.Bench;

/// <summary>
/// A server child process on a free loopback port: the built `cairn` with any command (`server`, `serve FOLDER`), or
/// another program (the MLflow reference), ready once a path answers 200. Disposing kills it with its children.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const int StderrLines = 20;

    private readonly Process _process;
    private readonly Queue<string> _stderr;

    private ServerProcess(Process process, Queue<string> stderr, Uri baseAddress)
    {
        _process = process;
        _stderr = stderr;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>
    /// Starts `cairn ARGS --port P` with the built CLI (or <paramref name="cliDll"/>), e.g. <c>["serve", folder]</c> or
    /// <see cref="ServerArgs"/>, and waits until <paramref name="readyPath"/> answers 200; <paramref name="environment"/> adds variables.
    /// </summary>
    public static Task<ServerProcess> StartAsync(string? cliDll, IEnumerable<string> args, string readyPath = "health",
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        cliDll ??= Path.Combine(RepoRoot(), "src", "Cairn.Cli", "bin", "Release", "net10.0", "cairn.dll");
        if (!File.Exists(cliDll))
            throw new FileNotFoundException($"{cliDll} not found: run `dotnet build -c Release src/Cairn.Cli` first.");
        return StartProgramAsync("dotnet", [cliDll, .. args], "--port", readyPath, environment, TimeSpan.FromSeconds(60));
    }

    /// <summary>The arguments of `cairn server` over <paramref name="backend"/> and <paramref name="artifacts"/>, then <paramref name="extra"/> flags.</summary>
    public static string[] ServerArgs(string backend, string artifacts, params string[] extra) =>
        ["server", "--backend-store-uri", backend, "--artifacts-destination", artifacts, .. extra];

    /// <summary>
    /// Starts <c>PROGRAM ARGS PORT_FLAG P</c> and waits until <paramref name="readyPath"/> answers 200 within <paramref name="timeout"/>;
    /// a program that exits first is reported with the last lines it wrote to stderr.
    /// </summary>
    public static async Task<ServerProcess> StartProgramAsync(string program, IEnumerable<string> args, string portFlag, string readyPath,
        IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout)
    {
        var port = FreePort();
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.ArgumentList.Add(portFlag);
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>()) start.Environment[name] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stderr = new Queue<string>();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr)
            {
                stderr.Enqueue(e.Data);
                if (stderr.Count > StderrLines) stderr.Dequeue();
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, stderr, new Uri($"http://127.0.0.1:{port}/"));
        try
        {
            await server.WaitReadyAsync(program, readyPath, timeout);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task WaitReadyAsync(string program, string readyPath, TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            try
            {
                using var response = await http.GetAsync(readyPath);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // listening, but not answering yet (a worker still loading)
            }
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // the last stderr lines are in
                throw new InvalidOperationException($"{program} exited with code {_process.ExitCode}: {LastErrors()}");
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{program} did not answer {readyPath} within {timeout.TotalSeconds:0} s: {LastErrors()}");
    }

    /// <summary>The last lines the process wrote to stderr, joined.</summary>
    public string LastErrors()
    {
        lock (_stderr) return _stderr.Count == 0 ? "(nothing on stderr)" : string.Join(" | ", _stderr);
    }

    /// <summary>
    /// CPU seconds (user + system) used so far by the server and every process under it (MLflow's gunicorn workers), from
    /// /proc: what a load costs the server, whatever else the machine is doing at the time.
    /// </summary>
    public double CpuSeconds()
    {
        var parents = new Dictionary<int, int>();
        var ticks = new Dictionary<int, long>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; } // the process ended while the list was read
            catch (UnauthorizedAccessException) { continue; }
            // pid (comm) state ppid ... utime stime: fields 4, 14 and 15; comm may hold spaces and parentheses.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
            ticks[pid] = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        var tree = new HashSet<int> { _process.Id };
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (pid, parent) in parents)
                if (tree.Contains(parent) && tree.Add(pid)) grew = true;
        }
        return tree.Sum(pid => ticks.GetValueOrDefault(pid)) / (double)ClockTicksPerSecond;
    }

    // USER_HZ: 100 on every Linux architecture .NET runs on.
    private const int ClockTicksPerSecond = 100;

    /// <summary>Resident and peak resident memory of the server process, from /proc.</summary>
    public (double RssMb, double PeakMb) Memory()
    {
        var status = File.ReadAllLines($"/proc/{_process.Id}/status");
        double Read(string field) => double.Parse(status.First(l => l.StartsWith(field, StringComparison.Ordinal)).Split(':')[1].Trim().Split(' ')[0]) / 1024;
        return (Read("VmRSS"), Read("VmHWM"));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Cairn.slnx"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("run from inside the Cairn repository");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
