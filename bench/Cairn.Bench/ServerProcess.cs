using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Cairn.Bench;

/// <summary>A `cairn server` child process on a free loopback port.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>Starts `cairn server`; <paramref name="extraArgs"/> are added flags (e.g. --auth), <paramref name="environment"/> added variables.</summary>
    public static async Task<ServerProcess> StartAsync(string? cliDll, string backend, string artifacts, IEnumerable<string>? extraArgs = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        cliDll ??= Path.Combine(RepoRoot(), "src", "Cairn.Cli", "bin", "Release", "net10.0", "cairn.dll");
        if (!File.Exists(cliDll))
            throw new FileNotFoundException($"{cliDll} not found: run `dotnet build -c Release src/Cairn.Cli` first.");
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { cliDll, "server", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--backend-store-uri", backend, "--artifacts-destination", artifacts },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in extraArgs ?? []) start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var address = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient { BaseAddress = address };
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var response = await http.GetAsync("health");
                if (response.IsSuccessStatusCode) return new ServerProcess(process, address);
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (process.HasExited) throw new InvalidOperationException($"the server exited with code {process.ExitCode}");
            await Task.Delay(100);
        }
        process.Kill();
        throw new TimeoutException("the server did not answer /health within 20 s");
    }

    /// <summary>Starts `cairn ARGS --port P` (e.g. `serve FOLDER`) and waits until <paramref name="readyPath"/> answers 200.</summary>
    public static async Task<ServerProcess> StartCommandAsync(string? cliDll, IEnumerable<string> args, string readyPath)
    {
        cliDll ??= Path.Combine(RepoRoot(), "src", "Cairn.Cli", "bin", "Release", "net10.0", "cairn.dll");
        if (!File.Exists(cliDll))
            throw new FileNotFoundException($"{cliDll} not found: run `dotnet build -c Release src/Cairn.Cli` first.");
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { ArgumentList = { cliDll }, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start cairn");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var address = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient { BaseAddress = address };
        for (var i = 0; i < 600; i++)
        {
            try
            {
                using var response = await http.GetAsync(readyPath);
                if (response.IsSuccessStatusCode) return new ServerProcess(process, address);
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            if (process.HasExited) throw new InvalidOperationException($"cairn exited with code {process.ExitCode}");
            await Task.Delay(100);
        }
        process.Kill();
        throw new TimeoutException($"cairn did not answer {readyPath} within 60 s");
    }

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
