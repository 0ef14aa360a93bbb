using System.Diagnostics;
using System.Globalization;

namespace Cairn.Bench;

/// <summary>
/// What one wrk run measured: requests/s, the 99th percentile latency in ms, the requests completed and, of those, the
/// answers that were not 2xx or 3xx plus socket errors and timeouts (<see cref="Errors"/>, wrk's lines in <see cref="ErrorText"/>).
/// </summary>
internal readonly record struct WrkResult(double Rps, double P99, long Requests, long Errors, string ErrorText);

/// <summary>wrk (2 threads, on the same cores as the servers) driving one URL, with a Lua script that sets a POST body.</summary>
internal static class Wrk
{
    /// <summary>Writes a wrk script that POSTs <paramref name="body"/> as JSON; returns its path.</summary>
    public static string Script(string path, string body)
    {
        File.WriteAllText(path, $"wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [==[{body}]==]\n");
        return path;
    }

    /// <summary>
    /// Runs wrk and returns requests/s, the 99th percentile latency and the failed requests (non-2xx answers, socket errors,
    /// timeouts of 30 s), which the caller reports beside the throughput.
    /// </summary>
    public static async Task<WrkResult> RunAsync(string url, string? script, int connections, int seconds)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-t2", $"-c{connections}", $"-d{seconds}s", "--timeout", "30s", "--latency" }) start.ArgumentList.Add(arg);
        if (script is not null)
        {
            start.ArgumentList.Add("-s");
            start.ArgumentList.Add(script);
        }
        start.ArgumentList.Add(url);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"wrk exited with code {process.ExitCode} on {url}: {(await stderr).Trim()}");
        var lines = output.Split('\n');
        long errors = 0;
        var errorText = new List<string>();
        // "Non-2xx or 3xx responses: N"; "Socket errors: connect N, read N, write N, timeout N".
        if (lines.FirstOrDefault(l => l.Contains("Non-2xx", StringComparison.Ordinal)) is { } failures)
        {
            errors += long.Parse(failures.Split(':')[1].Trim(), CultureInfo.InvariantCulture);
            errorText.Add(failures.Trim());
        }
        if (lines.FirstOrDefault(l => l.Contains("Socket errors", StringComparison.Ordinal)) is { } socket)
        {
            errors += socket.Split(':')[1].Split(',').Sum(part => long.Parse(part.Trim().Split(' ')[1], CultureInfo.InvariantCulture));
            errorText.Add(socket.Trim());
        }
        var rps = double.Parse(lines.First(l => l.StartsWith("Requests/sec:", StringComparison.Ordinal)).Split(':')[1].Trim(), CultureInfo.InvariantCulture);
        var p99 = Milliseconds(lines.First(l => l.TrimStart().StartsWith("99%", StringComparison.Ordinal)).Trim()[3..].Trim());
        var requests = long.Parse(lines.First(l => l.Contains(" requests in ", StringComparison.Ordinal)).Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return new WrkResult(rps, p99, requests, errors, string.Join("; ", errorText));
    }

    private static double Milliseconds(string text)
    {
        var unit = text.EndsWith("us", StringComparison.Ordinal) ? 0.001 : text.EndsWith("ms", StringComparison.Ordinal) ? 1 : text.EndsWith('s') ? 1000 : 1;
        return double.Parse(text.TrimEnd('u', 'm', 's'), CultureInfo.InvariantCulture) * unit;
    }
}
