using System.CommandLine;

namespace Cairn.Cli.Commands;

/// <summary>Adds the data and pipeline commands (and their global options) to the root command.</summary>
public static class CairnCommands
{
    /// <summary>Wires <c>data</c>, <c>repro</c>, <c>status</c>, <c>dag</c>, <c>metrics</c>, <c>params</c>, <c>plots</c> and <c>exp</c>.</summary>
    public static RootCommand AddDataAndPipelineCommands(this RootCommand root)
    {
        if (!root.Options.Contains(DataCli.Verbose)) root.Options.Add(DataCli.Verbose);
        if (!root.Options.Contains(DataCli.Directory)) root.Options.Add(DataCli.Directory);
        root.Subcommands.Add(DataCommands.Create());
        root.Subcommands.Add(PipelineCommands.CreateRepro());
        root.Subcommands.Add(PipelineCommands.CreateStatus());
        root.Subcommands.Add(PipelineCommands.CreateDag());
        root.Subcommands.Add(MetricsCommands.Create());
        root.Subcommands.Add(MetricsCommands.CreateParams());
        root.Subcommands.Add(PlotsCommands.Create());
        root.Subcommands.Add(ExpCommands.Create());
        return root;
    }
}
