using System.CommandLine;
using Cairn.Cli.Commands;

namespace Cairn.Cli;

/// <summary>The <c>cairn</c> command tree, built in one place for Program.cs and for in-process tests.</summary>
internal static class CliApp
{
    public static (RootCommand Root, Option<bool> Verbose) Build()
    {
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Show stack traces on errors.", Recursive = true };
        var root = new RootCommand("Cairn: MLOps for .NET. Track experiments, version data, register and serve models.")
        {
            verbose,
            ServerCommand.Create(),
            GcCommand.Create(),
        };
        return (root, verbose);
    }

    /// <summary>Runs one command line; <paramref name="output"/> and <paramref name="error"/> default to the console.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var (root, verbose) = Build();
        return CliRunner.RunAsync(root, args, verbose, output, error);
    }
}
