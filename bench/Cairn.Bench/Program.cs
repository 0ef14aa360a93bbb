using Cairn.Bench;

// Benchmarks; figures are medians, printed next to a reference measured in the same run.
//   dotnet run -c Release --project bench/Cairn.Bench -- tracking [--runs 100000] [--postgres CONNSTR]
//   dotnet run -c Release --project bench/Cairn.Bench -- store
//   dotnet run -c Release --project bench/Cairn.Bench -- auth [--trials 5]   (log-metric with access control off, HTTP Basic, bearer token)
//   dotnet run -c Release --project bench/Cairn.Bench -- registry [--postgres CONNSTR]
//   dotnet run -c Release --project bench/Cairn.Bench -- serve-profile [--trials 5] [--seconds 3]   (in-process: stages of a scoring request, micro-batching)
//   dotnet run -c Release --project bench/Cairn.Bench -- serve [--trials 3] [--seconds 10]   (build needed: src/Cairn.Cli; wrk on PATH;
//                                                             MLFLOW_SRC [MLFLOW_PYTHON] add MLflow's scoring server as the reference)
//   dotnet run -c Release --project bench/Cairn.Bench -- train [--trials 5]   (builds needed: src/Cairn.Cli, bench/Cairn.Bench.BareMlNet)
//   dotnet run -c Release --project bench/Cairn.Bench -- predlog [--rows 1000000] [--trials 5] [--postgres CONNSTR]
//   dotnet run -c Release --project bench/Cairn.Bench -- drift --rows 1000000 [--trials 5]   (build needed: src/Cairn.Cli)
//   dotnet run -c Release --project bench/Cairn.Bench -- monitor --rows 100000 [--trials 5]   (one monitoring window: read vs score)
//   dotnet run -c Release --project bench/Cairn.Bench -- validate --rows 1000000 [--trials 5]   (build needed: src/Cairn.Cli)
var options = BenchOptions.Parse(args);
return args.FirstOrDefault() switch
{
    "store" => await StoreBench.RunAsync(options),
    "registry" => await RegistryBench.RunAsync(options),
    "train" => await TrainBench.RunAsync(options),
    "auth" => await AuthBench.RunAsync(options),
    "serve" => await ServeBench.RunAsync(options),
    "serve-profile" => await ServeProfileBench.RunAsync(options),
    "predlog" => await PredictionLogBench.RunAsync(options),
    "drift" => await DriftBench.RunAsync(options),
    "monitor" => await MonitorBench.RunAsync(options),
    "validate" => await ValidateBench.RunAsync(options),
    _ => await TrackingBench.RunAsync(options),
};
