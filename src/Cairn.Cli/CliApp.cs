using System.CommandLine;
using Cairn.Cli.Commands;

namespace Cairn.Cli;

/// <summary>The <c>cairn</c> command tree, built once per invocation so tests can run it in-process.</summary>
internal static class CliApp
{
    public static (RootCommand Root, Option<bool> Verbose) Build(CliIO io)
    {
        // One --verbose for every command; the data and pipeline commands read the same option.
        var verbose = DataCli.Verbose;
        var root = new RootCommand("Cairn: MLOps for .NET. Track experiments, version data, register and serve models.")
        {
            verbose,
            ServerCommand.Create(io),
            ExperimentsCommand.Create(io),
            RunsCommand.Create(io),
            ArtifactsCommand.Create(io),
            GcCommand.Create(io),
            QuickstartCommand.Create(io),
            ModelsCommand.Create(io),
            TrainCommand.Create(io),
            EvaluateCommand.Create(io),
        };
        root.AddDataAndPipelineCommands(); // data, repro, status, dag, metrics, params, plots, exp
        return (root, verbose);
    }

    public static Task<int> RunAsync(string[] args, CliIO io)
    {
        var (root, verbose) = Build(io);
        return CliRunner.RunAsync(root, args, verbose, io.Out, io.Error);
    }
}
