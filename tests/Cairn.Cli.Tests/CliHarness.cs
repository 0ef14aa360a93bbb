using System.Diagnostics;
using Cairn.Cli;

namespace Cairn.Tests;

/// <summary>
/// Runs `cairn` in-process, capturing stdout and stderr, with its own environment (a dictionary: nothing leaks in from
/// the test process) and working folder. <see cref="CliHarness()"/> points CAIRN_HOME at a temp folder (tracking, models,
/// train); <see cref="InFolder"/> runs in a data/pipeline repository with an empty environment.
/// </summary>
public sealed class CliHarness : IDisposable
{
    private readonly Dictionary<string, string?> _environment = new();

    /// <summary>CAIRN_HOME is <see cref="Home"/>, and so is the working folder.</summary>
    public CliHarness()
    {
        _environment["CAIRN_HOME"] = Home.Path;
        WorkingDirectory = Home.Path;
    }

    private CliHarness(string workingDirectory) => WorkingDirectory = workingDirectory;

    /// <summary>Runs in <paramref name="workingDirectory"/> with no CAIRN_HOME (the repository's own .cairn is used).</summary>
    public static CliHarness InFolder(string workingDirectory) => new(workingDirectory);

    public TempDirectory Home { get; } = new();

    /// <summary>Where commands run (what the process's current folder would be).</summary>
    public string WorkingDirectory { get; set; }

    public void SetEnvironment(string name, string? value) => _environment[name] = value;

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(ansi: false, args);

    public Task<CliResult> RunAsync(bool ansi, params string[] args) => RunCoreAsync(WorkingDirectory, ansi, TestContext.Current.CancellationToken, args);

    /// <summary>
    /// Trains and registers <c>churn</c> with <c>cairn train</c> as a user would: a FastTree of <paramref name="trees"/> trees on
    /// 300 generated rows of x1, x2, x3 with the label y = x1 + x2 > x3 (train.csv and recipe.yaml in <see cref="Home"/>).
    /// </summary>
    public async Task TrainTinyChurnAsync(string experiment, int seed, int trees = 10)
    {
        var random = new Random(seed);
        var csv = new System.Text.StringBuilder("x1,x2,x3,y\n");
        for (var i = 0; i < 300; i++)
        {
            double x1 = random.NextDouble(), x2 = random.NextDouble(), x3 = random.NextDouble() * 2;
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{x1:0.####},{x2:0.####},{x3:0.####},{(x1 + x2 > x3 ? 1 : 0)}\n");
        }
        File.WriteAllText(Home.Combine("train.csv"), csv.ToString());
        File.WriteAllText(Home.Combine("recipe.yaml"),
            $"experiment: {experiment}\ntask: binary\ndata: train.csv\nlabel: y\ntrainer: {{name: fasttree, hyperparameters: {{number_of_trees: {trees}}}}}\n");
        (await RunAsync("train", "--recipe", "recipe.yaml", "--register", "churn")).Ok();
    }

    /// <summary>A port nothing listens on now, for a server a test starts.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs in another folder than <see cref="WorkingDirectory"/>.</summary>
    public Task<CliResult> RunInAsync(string workingDirectory, params string[] args) =>
        RunCoreAsync(workingDirectory, ansi: false, TestContext.Current.CancellationToken, args);

    /// <summary>Runs with a token that stands for Ctrl-C: cancelling it is what SIGINT does to the real process.</summary>
    public Task<CliResult> RunAsync(CancellationToken cancellationToken, params string[] args) =>
        RunCoreAsync(WorkingDirectory, ansi: false, cancellationToken, args);

    private async Task<CliResult> RunCoreAsync(string workingDirectory, bool ansi, CancellationToken cancellationToken, string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new Dictionary<string, string?>(_environment);
        var context = CliContext.ForWriters(output, error, workingDirectory, name => environment.GetValueOrDefault(name), ansi: ansi);
        var code = await CliApp.RunAsync(args, context, cancellationToken);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>
    /// Starts the real `cairn` process (for what only a process shows: signals, the terminal, a crash), in
    /// <paramref name="workingDirectory"/> with the test process's environment less the tracking variables plus <paramref name="environment"/>.
    /// </summary>
    public static Process StartProcess(string? workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cairn.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var name in new[] { "CAIRN_HOME", "CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI" }) start.Environment.Remove(name);
        start.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return Process.Start(start)!; // Process.Start with a ProcessStartInfo returns null only for shell-reused processes.
    }

    public void Dispose() => Home.Dispose();
}

public sealed record CliResult(int ExitCode, string Out, string Err)
{
    public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Fails unless the command succeeded, showing what it printed.</summary>
    public CliResult Ok()
    {
        Assert.True(ExitCode == 0, $"exit {ExitCode}\nstdout: {Out}\nstderr: {Err}");
        return this;
    }

    /// <summary>Fails unless the command failed with <paramref name="code"/> and exactly one line on stderr, nothing on stdout.</summary>
    public string FailedWith(int code)
    {
        Assert.True(ExitCode == code, $"expected exit {code}, got {ExitCode}\nstdout: {Out}\nstderr: {Err}");
        Assert.Single(ErrLines);
        Assert.StartsWith("error: ", Err);
        Assert.Equal("", Out);
        return ErrLines[0];
    }
}
