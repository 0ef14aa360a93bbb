using Spectre.Console;

namespace Cairn.Cli;

/// <summary>
/// Where a command writes and what environment it sees: the real console in <c>cairn</c>, string writers and a
/// dictionary in tests, so commands can run in-process side by side.
/// </summary>
internal sealed class CliIO
{
    private readonly Lazy<IAnsiConsole> _console;

    private CliIO(TextWriter output, TextWriter error, Lazy<IAnsiConsole> console, Func<string, string?> getEnvironmentVariable)
    {
        Out = output;
        Error = error;
        _console = console;
        GetEnvironmentVariable = getEnvironmentVariable;
    }

    /// <summary>Plain output (JSON, one-line results).</summary>
    public TextWriter Out { get; }

    /// <summary>Diagnostics: errors, progress notes.</summary>
    public TextWriter Error { get; }

    /// <summary>
    /// Tables and markup, written to <see cref="Out"/>; set up on first use: finding out what the terminal can do takes
    /// ~20 ms, which JSON output never needs.
    /// </summary>
    public IAnsiConsole Console => _console.Value;

    public Func<string, string?> GetEnvironmentVariable { get; }

    /// <summary>The process's console and environment.</summary>
    public static CliIO FromProcess()
    {
        var console = new Lazy<IAnsiConsole>(() =>
        {
            var terminal = AnsiConsole.Console;
            // Piped into a file or another program: wide enough that 32-character run ids are not wrapped.
            if (System.Console.IsOutputRedirected) terminal.Profile.Width = Math.Max(terminal.Profile.Width, 200);
            return terminal;
        });
        return new CliIO(System.Console.Out, System.Console.Error, console, Environment.GetEnvironmentVariable);
    }

    /// <summary>Writers without colour or terminal codes unless <paramref name="ansi"/> (tests, or output captured by a program).</summary>
    public static CliIO ForWriters(TextWriter output, TextWriter error, Func<string, string?> getEnvironmentVariable, int width = 200, bool ansi = false)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = ansi ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = ansi ? ColorSystemSupport.Standard : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = width;
        return new CliIO(output, error, new Lazy<IAnsiConsole>(console), getEnvironmentVariable);
    }
}
