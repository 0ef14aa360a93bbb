namespace Cairn.Cli;

/// <summary>
/// The exit codes of every <c>cairn</c> command (README.md has the same table), and the one place an error becomes one.
/// Distinct per kind of error, as DVC does, so scripts can tell "fix your input" from "try again later".
/// </summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>A designed failure the command reported itself: a pipeline stage failed, gc left something in place.</summary>
    public const int Failed = 1;

    /// <summary>Invalid input: a bad flag, argument, filter, rule, recipe or pipeline file (INVALID_PARAMETER_VALUE and other 4xx).</summary>
    public const int InvalidInput = 2;

    /// <summary>What the command names does not exist (RESOURCE_DOES_NOT_EXIST).</summary>
    public const int NotFound = 3;

    /// <summary>It already exists, or its state forbids the change (RESOURCE_ALREADY_EXISTS, INVALID_STATE).</summary>
    public const int InvalidState = 4;

    /// <summary>The server or store cannot be reached, timed out or is busy (TEMPORARILY_UNAVAILABLE, connection refused); try again later.</summary>
    public const int Unavailable = 5;

    /// <summary>A gate or requirement failed: <c>evaluate --require</c>, <c>models promote --require</c>, <c>drift --fail-on-drift</c> when the dataset drifted, and <c>validate</c> when an error-severity expectation failed.</summary>
    public const int GateFailed = 6;

    /// <summary>A bug or an unexpected failure (INTERNAL_ERROR, NOT_IMPLEMENTED, an I/O error); <c>--verbose</c> shows the stack trace.</summary>
    public const int Internal = 70;

    /// <summary>Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;

    /// <summary>The exit code of an error a command threw.</summary>
    public static int Of(Exception error) => error switch
    {
        GateFailedException or PromotionRefusedException => GateFailed,
        CairnException c => Of(c.ErrorCode),
        HttpRequestException => Unavailable,
        // Not Ctrl-C (CliRunner handles that first): a request or lock wait that timed out.
        TimeoutException or OperationCanceledException => Unavailable,
        FileNotFoundException or DirectoryNotFoundException => NotFound,
        _ => Internal,
    };

    /// <summary>The exit code of an MLflow error code.</summary>
    public static int Of(ErrorCode code) => code switch
    {
        ErrorCode.INVALID_PARAMETER_VALUE or ErrorCode.BAD_REQUEST or ErrorCode.MALFORMED_REQUEST => InvalidInput,
        ErrorCode.RESOURCE_DOES_NOT_EXIST => NotFound,
        ErrorCode.RESOURCE_ALREADY_EXISTS or ErrorCode.INVALID_STATE => InvalidState,
        ErrorCode.TEMPORARILY_UNAVAILABLE => Unavailable,
        _ when CairnException.StatusOf(code) is >= 400 and < 500 => InvalidInput,
        _ => Internal,
    };
}

/// <summary>A gate or requirement did not hold: the work ran, its result is refused (exit code 6).</summary>
internal sealed class GateFailedException(string message, Exception? inner = null) : Exception(message, inner);
