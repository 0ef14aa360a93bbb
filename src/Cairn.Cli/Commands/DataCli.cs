using System.CommandLine;
using Cairn.Data;

namespace Cairn.Cli.Commands;

/// <summary>Exit codes of the data and pipeline commands (distinct per error kind, DVC-style).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;          // a stage failed, a check did not pass
    public const int InvalidInput = 2;    // INVALID_PARAMETER_VALUE, bad pipeline file
    public const int NotFound = 3;        // RESOURCE_DOES_NOT_EXIST
    public const int InvalidState = 4;    // INVALID_STATE (corrupted object, would lose changes)
    public const int Busy = 5;            // TEMPORARILY_UNAVAILABLE (another repro holds the lock)
    public const int Internal = 70;       // a bug or an unexpected I/O failure
    public const int Cancelled = 130;     // Ctrl-C

    public static int Of(ErrorCode code) => code switch
    {
        ErrorCode.INVALID_PARAMETER_VALUE or ErrorCode.BAD_REQUEST or ErrorCode.MALFORMED_REQUEST => InvalidInput,
        ErrorCode.RESOURCE_DOES_NOT_EXIST => NotFound,
        ErrorCode.INVALID_STATE or ErrorCode.RESOURCE_ALREADY_EXISTS => InvalidState,
        ErrorCode.TEMPORARILY_UNAVAILABLE => Busy,
        _ => Failed,
    };
}

/// <summary>Options shared by every command and the one place errors become an exit code.</summary>
internal static class DataCli
{
    /// <summary>--verbose: print stack traces of errors.</summary>
    public static readonly Option<bool> Verbose = new("--verbose", "-v") { Recursive = true, Description = "Show stack traces of errors" };

    /// <summary>-C DIR: run as if started in DIR (like git -C).</summary>
    public static readonly Option<string?> Directory = new("--cwd", "-C") { Recursive = true, Description = "Run as if started in this folder" };

    /// <summary>Sets an action that gets the context and turns exceptions into one line on stderr and an exit code.</summary>
    public static void SetHandler(this Command command, Func<ParseResult, CliContext, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var outer = CliContext.Current;
            string? dir = parseResult.GetValue(Directory);
            var ctx = dir is null ? outer : new CliContext
            {
                Out = outer.Out,
                Error = outer.Error,
                WorkingDirectory = Path.GetFullPath(dir, outer.WorkingDirectory),
                GetEnvironmentVariable = outer.GetEnvironmentVariable,
            };
            bool verbose = parseResult.GetValue(Verbose);
            // Ctrl-C / SIGTERM cancel the work, which then cleans up (kills stage processes, removes partial
            // outputs) before the process exits with 130. Program.cs turns System.CommandLine's own handler off,
            // because that one returns from Main at once and leaves stage processes running.
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
                System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
            cancellationToken = cts.Token;
            // CAIRN_TIMING=1 prints where the wall time of a command goes (start-up versus work).
            var timing = ctx.GetEnvironmentVariable("CAIRN_TIMING") is "1" ? System.Diagnostics.Stopwatch.StartNew() : null;
            if (timing is not null)
                ctx.Error.WriteLine($"timing: start-up and parsing {(DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalMilliseconds:0} ms; " +
                    $"JIT {System.Runtime.JitInfo.GetCompiledMethodCount()} methods, {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:0} ms");
            try
            {
                return await body(parseResult, ctx, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                ctx.Error.WriteLine("cairn: cancelled");
                return ExitCodes.Cancelled;
            }
            catch (CairnException e)
            {
                ctx.Error.WriteLine("error: " + e.Message);
                if (verbose) ctx.Error.WriteLine(e.ToString());
                return ExitCodes.Of(e.ErrorCode);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ctx.Error.WriteLine("error: " + e.Message);
                if (verbose) ctx.Error.WriteLine(e.ToString());
                return ExitCodes.Internal;
            }
            catch (Exception e)
            {
                ctx.Error.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message} (run with --verbose for details)");
                if (verbose) ctx.Error.WriteLine(e.ToString());
                return ExitCodes.Internal;
            }
            finally
            {
                if (timing is not null)
                    ctx.Error.WriteLine($"timing: command {timing.Elapsed.TotalMilliseconds:0} ms; JIT since start: {System.Runtime.JitInfo.GetCompiledMethodCount()} methods, " +
                        $"{System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:0} ms");
            }
        });
    }

    /// <summary>Opens the data repository around the context's folder; CAIRN_HOME moves the cache.</summary>
    public static DataRepository OpenRepository(CliContext ctx, string? linkTypes = null, int jobs = 0)
    {
        string? home = ctx.GetEnvironmentVariable("CAIRN_HOME");
        return DataRepository.Open(ctx.WorkingDirectory, new DataRepositoryOptions
        {
            CacheDir = string.IsNullOrEmpty(home) ? null : Path.Combine(Path.GetFullPath(home, ctx.WorkingDirectory), "cache"),
            LinkTypes = linkTypes is null ? null : DataConfig.ParseLinkTypes(linkTypes, "--link-type"),
            Jobs = jobs,
        });
    }

    /// <summary>Paths given on the command line, made absolute against the context's folder.</summary>
    public static string[]? Targets(CliContext ctx, string[]? args)
        => args is null || args.Length == 0 ? null : args.Select(a => Path.GetFullPath(a, ctx.WorkingDirectory)).ToArray();

    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : $"{v:0.0} {units[u]}";
    }
}
