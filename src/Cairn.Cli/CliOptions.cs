using System.CommandLine;

namespace Cairn.Cli;

/// <summary>The options every command has, and the one way a command's action is registered.</summary>
internal static class CliOptions
{
    /// <summary>--verbose: print stack traces of errors.</summary>
    public static readonly Option<bool> Verbose = new("--verbose", "-v") { Recursive = true, Description = "Show stack traces of errors" };

    /// <summary>-C DIR: run as if started in DIR (like git -C); relative paths, CAIRN_HOME and tracking URIs resolve against it.</summary>
    public static readonly Option<string?> Directory = new("--cwd", "-C") { Recursive = true, Description = "Run as if started in this folder" };

    /// <summary>
    /// Sets the command's action: <paramref name="body"/> gets the parse result, the command's <see cref="CliContext"/>
    /// (<paramref name="app"/> with -C and --verbose applied) and the token that Ctrl-C cancels. It returns the exit code
    /// of a designed outcome and throws for errors, which <see cref="CliRunner"/> turns into one line and an exit code.
    /// </summary>
    public static void SetHandler(this Command command, CliContext app, Func<ParseResult, CliContext, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parse, cancellationToken) =>
        {
            var ctx = app.For(parse.GetValue(Directory), parse.GetValue(Verbose));
            // CAIRN_TIMING=1 prints where the wall time of a command goes (start-up versus work).
            var timing = ctx.GetEnvironmentVariable("CAIRN_TIMING") is "1" ? System.Diagnostics.Stopwatch.StartNew() : null;
            if (timing is not null)
                await ctx.Error.WriteLineAsync($"timing: start-up and parsing {(DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalMilliseconds:0} ms; " +
                    $"JIT {System.Runtime.JitInfo.GetCompiledMethodCount()} methods, {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:0} ms");
            try
            {
                return await body(parse, ctx, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (timing is not null)
                    await ctx.Error.WriteLineAsync($"timing: command {timing.Elapsed.TotalMilliseconds:0} ms; JIT since start: {System.Runtime.JitInfo.GetCompiledMethodCount()} methods, " +
                        $"{System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:0} ms");
            }
        });
    }
}
