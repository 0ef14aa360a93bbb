using System.CommandLine;
using System.Runtime.InteropServices;

namespace Cairn.Cli;

/// <summary>
/// Runs the command line: the one place where parse errors, exceptions and Ctrl-C become one line on stderr and an
/// exit code (<see cref="ExitCodes"/>). Commands throw; none of them catches to print.
/// </summary>
internal static class CliRunner
{
    public static async Task<int> RunAsync(string[] args, CliContext app, CancellationToken cancellationToken = default)
    {
        var root = CliApp.Build(app);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, like every other error; `cairn <command> --help` shows the usage.
            await app.Error.WriteLineAsync($"error: {OneLine(parse.Errors[0].Message)}");
            return ExitCodes.InvalidInput;
        }
        // Ctrl-C / SIGTERM cancel the token; the command then cleans up (kills stage processes, removes partial outputs,
        // stops the server) before the process exits. System.CommandLine's own handler is off (ProcessTerminationTimeout =
        // null) because it returns from Main at once and would leave child processes running.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = app.HandlesSignals ? PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cancel.Cancel(); }) : null;
        using var sigterm = app.HandlesSignals ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); }) : null;
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
                Output = app.Out,
                Error = app.Error,
            }, cancel.Token);
        }
        catch (Exception e) when (e is OperationCanceledException && cancel.IsCancellationRequested)
        {
            await app.Error.WriteLineAsync("cairn: cancelled");
            return ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            var error = e is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerException! : e;
            await app.Error.WriteLineAsync($"error: {OneLine(Describe(error))}");
            if (parse.GetValue(CliOptions.Verbose)) await app.Error.WriteLineAsync(error.ToString());
            return ExitCodes.Of(error);
        }
    }

    /// <summary>Folds a multi-line message (System.CommandLine lists allowed values on separate lines) into one line.</summary>
    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string Describe(Exception e) => e switch
    {
        CairnException or GateFailedException => e.Message,
        HttpRequestException h => $"cannot reach the server: {h.Message}",
        TimeoutException or OperationCanceledException => $"timed out: {e.Message}",
        IOException or UnauthorizedAccessException => e.Message,
        _ => $"unexpected {e.GetType().Name}: {e.Message} (run with --verbose for details)",
    };
}
