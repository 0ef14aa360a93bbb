using System.CommandLine;
using Cairn.Cli;
using Cairn.Cli.Commands;

var verbose = new Option<bool>("--verbose", "-v") { Description = "Show stack traces on errors.", Recursive = true };
var root = new RootCommand("Cairn: MLOps for .NET. Track experiments, version data, register and serve models.")
{
    verbose,
    ServerCommand.Create(),
    ModelsCommand.Create(),
};
return await CliRunner.RunAsync(root, args, verbose);
