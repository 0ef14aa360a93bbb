using System.CommandLine;
using Cairn.Cli.Commands;

var root = new RootCommand("cairn: MLOps for .NET");
root.AddDataAndPipelineCommands(); // data, repro, status, dag, metrics, params, plots, exp
// ProcessTerminationTimeout = null: commands handle Ctrl-C themselves (see CliCommon.SetHandler).
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
