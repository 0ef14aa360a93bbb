using Cairn.Bench;

// Benchmarks; figures are medians, printed next to a reference measured in the same run.
//   dotnet run -c Release --project bench/Cairn.Bench -- tracking [--runs 100000] [--postgres CONNSTR]
//   dotnet run -c Release --project bench/Cairn.Bench -- store
//   dotnet run -c Release --project bench/Cairn.Bench -- registry [--postgres CONNSTR]
var options = BenchOptions.Parse(args);
return args.FirstOrDefault() switch
{
    "store" => await StoreBench.RunAsync(options),
    "registry" => await RegistryBench.RunAsync(options),
    _ => await TrackingBench.RunAsync(options),
};
