using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Cairn.Tests.Data;

/// <summary>
/// Starts a real s3rver (npm, installed by <c>npm ci --prefix tests</c>) on a free loopback port for the
/// S3 remote tests and stops it afterwards. When node or s3rver is missing, <see cref="SkipReason"/> says why.
/// </summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    private Process? _process;
    private string? _dataDir;

    public string? SkipReason { get; private set; }
    public string Endpoint { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        string? script = FindS3rver();
        if (script is null)
        {
            SkipReason = "s3rver is not installed: run 'npm ci --prefix tests' (needs node) to enable the S3 remote tests";
            return;
        }
        string? node = FindOnPath("node");
        if (node is null)
        {
            SkipReason = "node is not on PATH; the S3 remote tests need it to run s3rver";
            return;
        }
        int port = FreePort();
        _dataDir = Path.Combine(Path.GetTempPath(), "cairn-s3rver-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dataDir);
        var psi = new ProcessStartInfo(node) { RedirectStandardOutput = true, RedirectStandardError = true };
        // s3rver 3.7 builds ListObjectsV2 continuation tokens with a cipher OpenSSL 3 only has in its legacy provider:
        // without it every truncated listing (more than 1000 keys) answers InternalError.
        psi.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        foreach (var a in new[] { script, "-d", _dataDir, "-a", "127.0.0.1", "-p", port.ToString(), "--silent" }) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Endpoint = $"http://127.0.0.1:{port}";
        using var http = new HttpClient();
        for (int i = 0; i < 100; i++)
        {
            try
            {
                using var r = await http.GetAsync(Endpoint);
                return;
            }
            catch (HttpRequestException)
            {
                if (_process.HasExited) throw new InvalidOperationException($"s3rver exited with code {_process.ExitCode}");
                await Task.Delay(100);
            }
        }
        throw new TimeoutException($"s3rver did not answer on {Endpoint} within 10 s");
    }

    public ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        _process?.Dispose();
        if (_dataDir is not null && Directory.Exists(_dataDir)) Directory.Delete(_dataDir, recursive: true);
        return ValueTask.CompletedTask;
    }

    private static string? FindS3rver()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "node_modules", "s3rver", "bin", "s3rver.js");
            if (File.Exists(candidate)) return candidate;
            candidate = Path.Combine(d.FullName, "node_modules", "s3rver", "bin", "s3rver.js");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static string? FindOnPath(string exe)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(p => Path.Combine(p, exe)).FirstOrDefault(File.Exists);

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
