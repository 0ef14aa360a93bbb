using System.Diagnostics;

namespace Cairn.Tests;

/// <summary>
/// Runs a program to its end for a test (dotnet pack/publish/tool install, a published cairn, a health check) with a time
/// limit, capturing both streams. The one way tests start such processes.
/// </summary>
public static class ChildProcess
{
    /// <summary>What the process printed and how it ended.</summary>
    public sealed record Result(int ExitCode, string Out, string Err)
    {
        /// <summary>Both streams, for a failure message.</summary>
        public string Output => Out + Err;
    }

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/>; kills it (and its children) and throws
    /// <see cref="TimeoutException"/> when it outlives <paramref name="timeout"/>. A nested <c>dotnet</c> gets no MSBuild
    /// variables from the test host (they would point it at the wrong build), no telemetry, and no tracking URI.
    /// </summary>
    public static async Task<Result> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment.Remove("CAIRN_TRACKING_URI");
        start.Environment.Remove("MLFLOW_TRACKING_URI");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The last lines of a long build log, where its errors are.</summary>
    public static string Tail(string text, int lines = 40) => string.Join('\n', text.Split('\n').TakeLast(lines));

    /// <summary>The folder holding Cairn.slnx above the test's output folder.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cairn.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"No Cairn.slnx above {AppContext.BaseDirectory}.");
    }
}
