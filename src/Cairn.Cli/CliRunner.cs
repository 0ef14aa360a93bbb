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

    public static async Task<int> RunAsync(RootCommand root, string[] args, Option<bool> verbose, TextWriter? output = null, TextWriter? errorOutput = null)
    {
        var parse = root.Parse(args);
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (output is not null) configuration.Output = output;
        if (errorOutput is not null) configuration.Error = errorOutput;
        try
        {
            return await parse.InvokeAsync(configuration);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var error = e is AggregateException { InnerExceptions.Count: 1 } agg ? agg.InnerException! : e;
            configuration.Error.WriteLine(parse.GetValue(verbose) ? $"error: {error}" : $"error: {Describe(error)}");
            return ExitCode(error);
        }
        catch (OperationCanceledException)
        {
            configuration.Error.WriteLine("cancelled");
            return 130;
        }
    }

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
