using System.Globalization;

namespace Cairn.Bench;

/// <summary>Reads counters from a server's Prometheus <c>/metrics</c> text: the sum of a metric's series.</summary>
internal static class PrometheusScrape
{
    /// <summary>The sum over every series of <paramref name="metric"/> (0 when the server has not recorded it yet).</summary>
    public static async Task<double> SumAsync(ServerProcess server, string metric)
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var text = await http.GetStringAsync("metrics");
        return Sum(text, metric);
    }

    public static double Sum(string text, string metric)
    {
        var sum = 0.0;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#' || !line.StartsWith(metric, StringComparison.Ordinal)) continue;
            var rest = line[metric.Length..];
            if (rest.StartsWith('{')) rest = rest[(rest.IndexOf('}', StringComparison.Ordinal) + 1)..];
            else if (!rest.StartsWith(' ')) continue; // another metric whose name starts the same
            sum += double.Parse(rest.Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return sum;
    }
}
