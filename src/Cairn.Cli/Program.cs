using System.CommandLine;
using Cairn.Cli.Commands;

var root = new RootCommand("cairn: MLOps for .NET");
root.AddDataAndPipelineCommands(); // data, repro, status, dag, metrics, params, plots, exp
return await root.Parse(args).InvokeAsync();
