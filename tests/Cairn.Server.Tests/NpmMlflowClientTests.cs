using System.Diagnostics;

namespace Cairn.Tests;

/// <summary>The third-party npm `mlflow` client (2.0.7), unchanged, against a real Cairn server.</summary>
public sealed class NpmMlflowClientTests
{
    [Fact]
    public async Task Npm_mlflow_client_passes_every_call_it_has()
    {
        var node = FindOnPath("node");
        Assert.SkipWhen(node is null, "Node.js is not installed, so the npm MLflow client cannot run (.ci/run installs it).");
        var dir = Path.Combine(RepoRoot(), "tests", "compat-npm");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "mlflow")))
        {
            var (installCode, installOutput) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], dir);
            Assert.True(installCode == 0, "npm ci failed:\n" + installOutput);
        }

        await using var server = await RunningServer.StartAsync();
        var (code, output) = await RunAsync(node!, ["check.js", server.Server.Address.ToString().TrimEnd('/')], dir);

        Assert.True(code == 0, "the npm client's checks failed:\n" + output);
        Assert.Matches(@"(?m)^[1-9]\d* passed, 0 failed$", output);
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] args, string workingDirectory)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    internal static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Cairn.slnx"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("tests must run inside the Cairn repository");
    }
}
