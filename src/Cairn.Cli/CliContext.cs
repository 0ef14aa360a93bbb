using Spectre.Console;

namespace Cairn.Cli;

/// <summary>
/// What a command runs against: its console, error writer, working folder and environment. Program.cs uses
/// the process's; tests install their own with <see cref="Use"/> so commands can run in-process side by side.
/// </summary>
internal sealed class CliContext
{
    private static readonly AsyncLocal<CliContext?> s_current = new();

    public required IAnsiConsole Out { get; init; }
    public required TextWriter Error { get; init; }
    public required string WorkingDirectory { get; init; }
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    public static CliContext Current => s_current.Value ?? s_process.Value;

    private static readonly Lazy<CliContext> s_process = new(() => new CliContext
    {
        Out = ProcessConsole(),
        Error = Console.Error,
        WorkingDirectory = Environment.CurrentDirectory,
    });

    private static IAnsiConsole ProcessConsole()
    {
        var console = AnsiConsole.Console;
        // Redirected output is for logs and scripts: do not wrap lines at 80 columns.
        if (Console.IsOutputRedirected) console.Profile.Width = 1000;
        return console;
    }

    /// <summary>Makes <paramref name="context"/> current for the calling async flow.</summary>
    public static IDisposable Use(CliContext context)
    {
        var previous = s_current.Value;
        s_current.Value = context;
        return new Restore(previous);
    }

    /// <summary>A context writing plain text (no colours, no live progress) into <paramref name="output"/>.</summary>
    public static CliContext ForText(TextWriter output, TextWriter error, string workingDirectory, Func<string, string?>? env = null)
        => new()
        {
            Out = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            }).WithWidth(1000),
            Error = error,
            WorkingDirectory = workingDirectory,
            GetEnvironmentVariable = env ?? Environment.GetEnvironmentVariable,
        };

    private sealed class Restore(CliContext? previous) : IDisposable
    {
        public void Dispose() => s_current.Value = previous;
    }
}

internal static class AnsiConsoleWidthExtensions
{
    public static IAnsiConsole WithWidth(this IAnsiConsole console, int width)
    {
        console.Profile.Width = width;
        return console;
    }
}
