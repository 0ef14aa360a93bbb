using Cairn.Client;
using Spectre.Console;

namespace Cairn.Cli;

/// <summary>
/// What a command runs against, passed to every action explicitly: where it writes (plain writers and a Spectre console),
/// the folder it runs in (<c>-C</c>/<c>--cwd</c> applied), the environment it reads and whether <c>--verbose</c> is on.
/// Program.cs uses the process's; tests build their own with <see cref="ForWriters"/> so commands run in-process side by side.
/// </summary>
internal sealed class CliContext
{
    private readonly Lazy<IAnsiConsole> _console;

    private CliContext(TextWriter output, TextWriter error, Lazy<IAnsiConsole> console, string workingDirectory,
        Func<string, string?> getEnvironmentVariable, bool verbose, bool handlesSignals)
    {
        Out = output;
        Error = error;
        _console = console;
        WorkingDirectory = workingDirectory;
        GetEnvironmentVariable = getEnvironmentVariable;
        Verbose = verbose;
        HandlesSignals = handlesSignals;
    }

    /// <summary>Plain output (JSON, one-line results).</summary>
    public TextWriter Out { get; }

    /// <summary>Diagnostics: errors, warnings, progress lines.</summary>
    public TextWriter Error { get; }

    /// <summary>
    /// Tables, markup and live progress, written to <see cref="Out"/>; set up on first use: finding out what the terminal
    /// can do takes ~20 ms, which JSON output never needs.
    /// </summary>
    public IAnsiConsole Console => _console.Value;

    /// <summary>The folder relative paths resolve against: the process's, or <c>-C DIR</c>.</summary>
    public string WorkingDirectory { get; }

    /// <summary>The environment commands read (CAIRN_HOME, CAIRN_TRACKING_URI, credentials, ...).</summary>
    public Func<string, string?> GetEnvironmentVariable { get; }

    /// <summary><c>--verbose</c>: errors come with their stack trace.</summary>
    public bool Verbose { get; }

    /// <summary>True for the real process: SIGINT and SIGTERM cancel the running command (<see cref="CliRunner"/>).</summary>
    public bool HandlesSignals { get; }

    /// <summary>The process's console, folder and environment.</summary>
    public static CliContext FromProcess()
    {
        var console = new Lazy<IAnsiConsole>(() =>
        {
            var terminal = AnsiConsole.Console;
            // Piped into a file or another program: wide enough that run ids and table rows are not wrapped.
            if (System.Console.IsOutputRedirected) terminal.Profile.Width = Math.Max(terminal.Profile.Width, 1000);
            return terminal;
        });
        return new CliContext(System.Console.Out, System.Console.Error, console, Environment.CurrentDirectory,
            Environment.GetEnvironmentVariable, verbose: false, handlesSignals: true);
    }

    /// <summary>
    /// Writers without colour, terminal codes or live progress (tests, or output captured by a program) unless
    /// <paramref name="ansi"/>, which makes them behave as a terminal; running in <paramref name="workingDirectory"/> with the given environment.
    /// </summary>
    public static CliContext ForWriters(TextWriter output, TextWriter error, string workingDirectory, Func<string, string?> getEnvironmentVariable,
        int width = 1000, bool ansi = false)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = ansi ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = ansi ? ColorSystemSupport.Standard : ColorSystemSupport.NoColors,
            Interactive = ansi ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = width;
        return new CliContext(output, error, new Lazy<IAnsiConsole>(console), Path.GetFullPath(workingDirectory), getEnvironmentVariable,
            verbose: false, handlesSignals: false);
    }

    /// <summary>The context of one command: <c>-C</c> (relative to this context's folder) and <c>--verbose</c> applied.</summary>
    public CliContext For(string? directory, bool verbose) =>
        new(Out, Error, _console, directory is null ? WorkingDirectory : Path.GetFullPath(directory, WorkingDirectory),
            GetEnvironmentVariable, verbose, HandlesSignals);

    /// <summary>A path given on the command line or in the environment, made absolute against <see cref="WorkingDirectory"/>.</summary>
    public string FullPath(string path) => Path.GetFullPath(path, WorkingDirectory);

    /// <summary>CAIRN_HOME (default <c>./.cairn</c>) as a full path: the embedded store, its artifacts and the data cache.</summary>
    public string CairnHome => FullPath(GetEnvironmentVariable("CAIRN_HOME") is { Length: > 0 } home ? home : ".cairn");

    /// <summary>The artifacts folder of <see cref="CairnHome"/>.</summary>
    public string CairnHomeArtifacts => Path.Combine(CairnHome, "artifacts");

    /// <summary>
    /// <paramref name="flag"/> (<c>--tracking-uri</c>), else CAIRN_TRACKING_URI, else MLFLOW_TRACKING_URI, else CAIRN_HOME;
    /// a folder or <c>sqlite:///relative.db</c> resolves against <see cref="WorkingDirectory"/>, so <c>-C</c> applies.
    /// </summary>
    public string TrackingUri(string? flag = null) =>
        AbsoluteUri(flag is { Length: > 0 } ? flag
            : CairnClient.ResolveTrackingUri(name => name == "CAIRN_HOME" ? CairnHome : GetEnvironmentVariable(name)));

    /// <summary>A store URI with a relative folder or SQLite path made absolute; servers and PostgreSQL stay as they are.</summary>
    public string AbsoluteUri(string uri)
    {
        const string Sqlite = "sqlite:///";
        if (uri.StartsWith(Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            var path = uri[Sqlite.Length..];
            // sqlite:////absolute.db keeps its leading slash; sqlite:///relative.db is SQLAlchemy's relative form.
            return Path.IsPathRooted(path) ? uri : Sqlite + FullPath(path);
        }
        if (uri.Contains("://", StringComparison.Ordinal) || uri.Contains("Host=", StringComparison.OrdinalIgnoreCase)) return uri;
        return FullPath(uri);
    }

    /// <summary>
    /// Opens the client behind <paramref name="trackingUri"/> (already resolved with <see cref="TrackingUri"/>): the one way
    /// commands open stores. MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, authenticate to a server.
    /// </summary>
    public Task<CairnClient> OpenClientAsync(string trackingUri, CancellationToken cancellationToken, Action<CairnClientOptions>? configure = null)
    {
        // MLflow's credential variables are read in one place (HttpTrackingStoreOptions.ApplyEnvironment).
        var options = CairnClientOptions.FromEnvironment(GetEnvironmentVariable);
        configure?.Invoke(options);
        return CairnClient.OpenAsync(trackingUri, options, cancellationToken);
    }
}
