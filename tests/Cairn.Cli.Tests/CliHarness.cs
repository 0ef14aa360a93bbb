using Cairn.Cli;

namespace Cairn.Tests;

/// <summary>Runs `cairn` in-process against a temp CAIRN_HOME, capturing stdout and stderr.</summary>
public sealed class CliHarness : IDisposable
{
    private readonly Dictionary<string, string?> _environment = new();

    public CliHarness()
    {
        _environment["CAIRN_HOME"] = Home.Path;
    }

    public TempDirectory Home { get; } = new();

    public void SetEnvironment(string name, string? value) => _environment[name] = value;

    public async Task<CliResult> RunAsync(params string[] args) => await RunAsync(ansi: false, args);

    public async Task<CliResult> RunAsync(bool ansi, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(args, CliIO.ForWriters(output, error, name => _environment.GetValueOrDefault(name), ansi: ansi));
        return new CliResult(code, output.ToString(), error.ToString());
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
