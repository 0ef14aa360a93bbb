using Cairn.Cli;

return await CliApp.RunAsync(args);
