using System.CommandLine;
using Cairn.Cli.Commands;

namespace Cairn.Cli;

/// <summary>The <c>cairn</c> command tree, built once per invocation so tests can run it in-process.</summary>
internal static class CliApp
{
    public static RootCommand Build(CliContext app)
    {
        var root = new RootCommand("Cairn: MLOps for .NET. Track experiments, version data, register and serve models.")
        {
            CliOptions.Verbose,
            CliOptions.Directory,
            ServerCommand.Create(app),
            ServeCommand.Create(app),
            ExperimentsCommand.Create(app),
            RunsCommand.Create(app),
            ArtifactsCommand.Create(app),
            GcCommand.Create(app),
            ImportCommand.Create(app),
            QuickstartCommand.Create(app),
            ModelsCommand.Create(app),
            DeploymentsCommand.Create(app),
            TokensCommand.Create(app),
            TrainCommand.Create(app),
            PredictCommand.Create(app),
            DriftCommand.Create(app),
            MonitorCommand.Create(app),
            AlertsCommand.Create(app),
            ValidateCommand.Create(app),
            EvaluateCommand.Create(app),
            DataCommands.Create(app),
            PipelineCommands.CreateRepro(app),
            PipelineCommands.CreateStatus(app),
            PipelineCommands.CreateDag(app),
            MetricsCommands.Create(app),
            MetricsCommands.CreateParams(app),
            PlotsCommands.Create(app),
            ExpCommands.Create(app),
            CompletionCommand.Create(app),
        };
        return root;
    }

    /// <summary>Runs <c>cairn</c> with <paramref name="args"/> against <paramref name="app"/>; see <see cref="CliRunner"/>.</summary>
    public static Task<int> RunAsync(string[] args, CliContext app, CancellationToken cancellationToken = default) =>
        CliRunner.RunAsync(args, app, cancellationToken);
}
