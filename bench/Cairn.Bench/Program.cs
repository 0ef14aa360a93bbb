using Cairn.Bench;

// Tracking benchmarks. Each figure is a median over repeated trials, printed next to a reference
// measured in the same run on the same machine (the trivial /health endpoint).
//   dotnet run -c Release --project bench/Cairn.Bench -- tracking [--runs 100000] [--postgres CONNSTR]
var options = BenchOptions.Parse(args);
return args.Length > 0 && args[0] == "store" ? await StoreBench.RunAsync(options) : await TrackingBench.RunAsync(options);
