using Cairn.Cli;

return await CliRunner.RunAsync(args, CliContext.FromProcess());
