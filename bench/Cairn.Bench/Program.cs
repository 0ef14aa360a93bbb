using Cairn.Bench;

// Tracking benchmarks. Each figure is a median over repeated trials, printed next to a reference
// measured in the same run on the same machine (the trivial /health endpoint).
//   dotnet run -c Release --project bench/Cairn.Bench -- tracking [--runs 100000] [--postgres CONNSTR]
var options = BenchOptions.Parse(args);
return await TrackingBench.RunAsync(options);
