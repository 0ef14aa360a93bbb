using System.CommandLine;
using Cairn.Cli.Commands;

namespace Cairn.Cli;

/// <summary>Runs the command line and turns every failure into one line on stderr and a distinct exit code.</summary>
internal static class CliRunner
{
    public const int UserError = 2;
    public const int NotFound = 3;
    public const int AlreadyExists = 4;
    public const int Unavailable = 5;
    public const int InternalError = 1;

    public static Task<int> RunAsync(RootCommand root, string[] args, Option<bool> verbose) =>
        RunAsync(root, args, verbose, Console.Out, Console.Error);

    public static async Task<int> RunAsync(RootCommand root, string[] args, Option<bool> verbose, TextWriter output, TextWriter errorOutput)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, like every other error; `cairn <command> --help` shows the usage.
            errorOutput.WriteLine($"error: {OneLine(parse.Errors[0].Message)}");
            return UserError;
        }
        try
        {
            // ProcessTerminationTimeout = null: commands that run child processes handle Ctrl-C themselves (DataCli.SetHandler);
            // the server's host owns SIGINT/SIGTERM.
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null, Output = output, Error = errorOutput });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var error = e is AggregateException { InnerExceptions.Count: 1 } agg ? agg.InnerException! : e;
            errorOutput.WriteLine(parse.GetValue(verbose) ? $"error: {error}" : $"error: {OneLine(Describe(error))}");
            return ExitCode(error);
        }
        catch (OperationCanceledException)
        {
            errorOutput.WriteLine("cancelled");
            return 130;
        }
    }

    /// <summary>Folds a multi-line message (System.CommandLine lists allowed values on separate lines) into one line.</summary>
    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string Describe(Exception e) => e switch
    {
        CairnException c => c.Message,
        HttpRequestException h => $"cannot reach the server: {h.Message}",
        IOException or UnauthorizedAccessException => e.Message,
        _ => $"{e.Message} (run with --verbose for details)",
    };

    private static int ExitCode(Exception e) => e switch
    {
        CairnException { ErrorCode: ErrorCode.RESOURCE_DOES_NOT_EXIST } => NotFound,
        CairnException { ErrorCode: ErrorCode.RESOURCE_ALREADY_EXISTS } => AlreadyExists,
        CairnException { ErrorCode: ErrorCode.TEMPORARILY_UNAVAILABLE } or HttpRequestException => Unavailable,
        CairnException { HttpStatus: >= 400 and < 500 } => UserError,
        IOException or UnauthorizedAccessException => UserError,
        _ => InternalError,
    };
}
