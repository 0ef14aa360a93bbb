namespace Cairn.Bench;

internal sealed record BenchOptions(int Runs, string? Postgres, double Seconds, int Trials, string? Cli, string? Bare, string Work, bool Reuse, int Rows, string? Baseline = null)
{
    public static BenchOptions Parse(string[] args)
    {
        int runs = 100_000, trials = 5, rows = 100_000;
        double seconds = 3;
        string? postgres = null, cli = null, bare = null, baseline = null;
        var reuse = false;
        var work = Path.Combine(Path.GetTempPath(), "cairn-bench-tracking");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "tracking" or "store" or "registry" or "train" or "auth" or "serve" or "serve-profile" or "predlog" or "drift" or "monitor" or "validate": break;
                case "--runs": runs = int.Parse(args[++i]); break;
                case "--postgres": postgres = args[++i]; break;
                case "--seconds": seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--trials": trials = int.Parse(args[++i]); break;
                case "--cli": cli = args[++i]; break;
                case "--bare": bare = args[++i]; break;
                case "--baseline": baseline = args[++i]; break; // train: a second cairn build timed in the same rotation
                case "--rows": rows = int.Parse(args[++i]); break; // train: rows of the generated data set
                case "--work": work = args[++i]; break;
                case "--reuse": reuse = true; break; // keep an already populated database

                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        return new BenchOptions(runs, postgres, seconds, trials, cli, bare, work, reuse, rows, baseline);
    }
}
