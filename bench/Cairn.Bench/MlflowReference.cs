using System.Diagnostics;

namespace Cairn.Bench;

/// <summary>
/// MLflow's own scoring server as the reference: `mlflow models serve` (gunicorn, one sync worker per core with one OpenMP
/// thread each, Flask app) of a
/// scikit-learn HistGradientBoostingClassifier (100 iterations, at most 20 leaves) trained by <c>bench/mlflow_reference.py</c>
/// on the same rows as the FastTree model. Runs from an MLflow source tree (MLFLOW_SRC) with the Python of MLFLOW_PYTHON
/// (default python3), which needs scikit-learn, pandas, Flask and gunicorn; skipped with a message when MLFLOW_SRC is unset.
/// </summary>
internal static class MlflowReference
{
    /// <summary>Why the reference cannot run here, or null when it can.</summary>
    public static string? SkipReason()
    {
        var source = Environment.GetEnvironmentVariable("MLFLOW_SRC");
        if (string.IsNullOrEmpty(source))
            return "MLFLOW_SRC is not set (an MLflow 2.11 source tree; the Python of MLFLOW_PYTHON needs scikit-learn, pandas, Flask and gunicorn)";
        if (!File.Exists(Path.Combine(source, "mlflow", "__init__.py")))
            return $"MLFLOW_SRC ({source}) holds no mlflow/__init__.py";
        return null;
    }

    /// <summary>Trains and saves the reference model from <paramref name="trainCsv"/>, then starts `mlflow models serve` on it.</summary>
    public static async Task<ServerProcess> StartAsync(string work, string trainCsv)
    {
        var folder = Path.Combine(work, "mlflow-model");
        var script = Path.Combine(ServerProcess.RepoRoot(), "bench", "mlflow_reference.py");
        var start = new ProcessStartInfo(Python()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { script, trainCsv, folder }) start.ArgumentList.Add(arg);
        foreach (var (name, value) in PythonEnvironment()) start.Environment[name] = value;
        var clock = Stopwatch.StartNew();
        using (var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}"))
        {
            var errors = process.StandardError.ReadToEndAsync();
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"{script} exited with code {process.ExitCode}: {string.Join(" | ", (await errors).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(5))}");
            Console.WriteLine($"mlflow reference: {output.Trim()} ({clock.Elapsed.TotalSeconds:0.0} s)");
        }
        return await ServerProcess.StartProgramAsync(Python(),
            ["-m", "mlflow", "models", "serve", "-m", folder, "--env-manager", "local", "--host", "127.0.0.1", "--workers", Workers()],
            "--port", "ping", PythonEnvironment(), TimeSpan.FromSeconds(120));
    }

    /// <summary>Worker processes: one per core, so MLflow's server can use the cores Cairn's does.</summary>
    public static string Workers() => Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Python() => Environment.GetEnvironmentVariable("MLFLOW_PYTHON") is { Length: > 0 } python ? python : "python3";

    private static Dictionary<string, string?> PythonEnvironment() => new()
    {
        ["PYTHONPATH"] = Environment.GetEnvironmentVariable("MLFLOW_SRC"),
        ["PYTHONWARNINGS"] = "ignore",
        // One OpenMP thread per worker process (HistGradientBoosting predicts through OpenMP): with one worker per core,
        // more threads only spin against each other; unset, every worker starts one per core.
        ["OMP_NUM_THREADS"] = "1",
    };
}
