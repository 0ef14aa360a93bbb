using Xunit;
using System.CommandLine;
using Cairn.Cli;
using Cairn.Cli.Commands;

namespace Cairn.Tests;

/// <summary>Runs the real command tree in-process against a folder, capturing stdout and stderr.</summary>
internal static class CliHost
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string dir, params string[] args)
        => await RunAsync(dir, null, TestContext.Current.CancellationToken, args);

    public static async Task<(int Exit, string Out, string Err)> RunAsync(string dir, Dictionary<string, string>? env,
        CancellationToken cancellationToken, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var ctx = CliContext.ForText(stdout, stderr, dir, name => env is not null && env.TryGetValue(name, out var v) ? v : null);
        using (CliContext.Use(ctx))
        {
            var root = new RootCommand("cairn").AddDataAndPipelineCommands();
            int code = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, cancellationToken);
            return (code, stdout.ToString(), stderr.ToString());
        }
    }
}
