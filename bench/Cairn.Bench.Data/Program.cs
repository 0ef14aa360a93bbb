// Benchmarks of issue 4 (data versioning and pipelines). Every figure is the wall time of a whole
// command (process start to exit), median of N runs, next to a physical reference measured in the
// same run on the same files: sha256sum, git status, cp. Usage:
//   dotnet run -c Release --project bench/Cairn.Bench.Data -- --cairn /tmp/cairn-bin/cairn [--work DIR (default /tmp/cairn-data-bench)] [--only hash,status,repro,checkout]
using System.Diagnostics;
using System.Globalization;

var opts = Args.Parse(args);
string cairn = opts.Get("--cairn") ?? throw new ArgumentException("--cairn PATH (a published cairn executable) is required");
string work = Path.GetFullPath(opts.Get("--work") ?? "/tmp/cairn-data-bench");
var only = (opts.Get("--only") ?? "hash,status,repro,checkout").Split(',');
int runs = int.Parse(opts.Get("--runs") ?? "5", CultureInfo.InvariantCulture);
Directory.CreateDirectory(work);
Console.WriteLine($"cairn: {cairn}\nwork: {work}\nruns per figure: {runs}\nprocessors: {Environment.ProcessorCount}\n");

if (only.Contains("hash")) Bench.Hash(cairn, work, runs);
if (only.Contains("status")) Bench.Status(cairn, work, runs);
if (only.Contains("repro")) Bench.Repro(cairn, work, runs * 2);
if (only.Contains("checkout")) Bench.Checkout(cairn, work, runs);

static class Bench
{
    public static void Hash(string cairn, string work, int runs)
    {
        Console.WriteLine("## 1. Hashing a 2 GiB file: cairn data add vs sha256sum");
        string dir = Path.Combine(work, "hash");
        Sh.Reset(dir);
        string file = Path.Combine(dir, "big.bin");
        WriteRandomFile(file, 2L << 30);
        Sh.Time("cat", dir, file); // warm the page cache for both contenders (output discarded)
        var sha = new List<double>();
        var ossl = new List<double>();
        var addLink = new List<double>();
        var addCopy = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            Sh.Sync();
            sha.Add(Sh.Time("sha256sum", dir, "big.bin"));
            Sh.Sync();
            ossl.Add(Sh.Time("openssl", dir, "dgst", "-sha256", "big.bin"));
            foreach (var (mode, list) in new[] { ("hardlink", addLink), ("copy", addCopy) })
            {
                Sh.Delete(Path.Combine(dir, ".cairn"));
                Sh.Delete(Path.Combine(dir, "big.bin.cairn"));
                Directory.CreateDirectory(Path.Combine(dir, ".cairn"));
                File.WriteAllText(Path.Combine(dir, ".cairn", "config.yaml"), $"link_type: {mode}\n");
                Sh.MakeWritable(file);
                Sh.Sync();
                list.Add(Sh.Time(cairn, dir, "data", "add", "big.bin"));
            }
        }
        double gib = 2.0;
        Report("sha256sum big.bin (coreutils)", sha, gib);
        Report("openssl dgst -sha256 big.bin (OpenSSL, SHA-NI)", ossl, gib);
        Report("cairn data add big.bin (link_type: hardlink, hash only)", addLink, gib);
        Report("cairn data add big.bin (link_type: copy, hash + copy into cache)", addCopy, gib);
        Console.WriteLine($"throughput of cairn data add (hardlink) relative to sha256sum: {Median(sha) / Median(addLink):P0}, to openssl: {Median(ossl) / Median(addLink):P0}\n");
        Sh.MakeWritable(file);
        Sh.Delete(dir);
    }

    public static void Status(string cairn, string work, int runs)
    {
        Console.WriteLine("## 2. Status of an unchanged folder of 100,000 small files: cairn data status vs git status");
        string gitTree = Path.Combine(work, "git100k");
        string cairnTree = Path.Combine(work, "cairn100k");
        Sh.Reset(gitTree);
        Sh.Reset(cairnTree);
        foreach (var root in new[] { gitTree, cairnTree })
        {
            for (int d = 0; d < 100; d++)
            {
                string sub = Path.Combine(root, "data", $"d{d:000}");
                Directory.CreateDirectory(sub);
                for (int f = 0; f < 1000; f++) File.WriteAllText(Path.Combine(sub, $"f{f:0000}.txt"), $"row {d} {f} {new string('x', 64)}\n");
            }
        }
        Sh.Run("git", gitTree, "init", "-q");
        Sh.Run("git", gitTree, "add", "-A");
        Sh.Run("git", gitTree, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "100k");
        Sh.Run("git", cairnTree, "init", "-q");
        double add = Sh.Time(cairn, cairnTree, "data", "add", "data");
        Console.WriteLine($"(first cairn data add of the 100k files, not part of the target: {add:0.000} s)");
        Sh.Run("git", gitTree, "status", "--porcelain"); // warm up both (index and stat cache exist now)
        Sh.Run(cairn, cairnTree, "data", "status");
        var git = new List<double>();
        var st = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            git.Add(Sh.Time("git", gitTree, "status"));
            st.Add(Sh.Time(cairn, cairnTree, "data", "status"));
        }
        string output = Sh.Run(cairn, cairnTree, "data", "status").Trim();
        Report("git status (100k tracked files)", git, null);
        Report($"cairn data status (100k files; prints: \"{output}\")", st, null);
        Console.WriteLine();
        Sh.Delete(gitTree);
        Sh.Delete(cairnTree);
    }

    public static void Repro(string cairn, string work, int runs)
    {
        Console.WriteLine("## 3. cairn repro on a 20-stage pipeline where nothing changed");
        string dir = Path.Combine(work, "repro20");
        Sh.Reset(dir);
        File.WriteAllText(Path.Combine(dir, "params.yaml"), "train:\n  lr: 0.1\n  depth: 4\nprepare:\n  split: 0.2\n");
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        File.WriteAllText(Path.Combine(dir, "data", "raw.csv"), string.Join('\n', Enumerable.Range(0, 1000).Select(i => $"{i},{i * 2}")));
        var yaml = new System.Text.StringBuilder("stages:\n");
        // A wide DAG: 4 chains of 5 stages reading the raw data and params, with metrics.
        for (int c = 0; c < 4; c++)
        {
            for (int s = 0; s < 5; s++)
            {
                string name = $"c{c}s{s}";
                string dep = s == 0 ? "data/raw.csv" : $"out/c{c}s{s - 1}.csv";
                yaml.Append($"  {name}:\n    cmd: mkdir -p out && cp {dep} out/{name}.csv && echo '{{\"v\":{s}}}' > out/{name}.json\n")
                    .Append($"    deps: [{dep}]\n    params: [train.lr, prepare.split]\n    outs: [out/{name}.csv]\n")
                    .Append($"    metrics:\n    - out/{name}.json: {{cache: false}}\n");
            }
        }
        File.WriteAllText(Path.Combine(dir, "cairn.yaml"), yaml.ToString());
        Sh.Run(cairn, dir, "repro", "-j", "2");
        Thread.Sleep(1100); // outputs younger than 1 s are "racy" and never vouched for by stat; a real workspace is older
        Sh.Run(cairn, dir, "repro"); // warm-up: full check, records the up-to-date memo
        var startup = new List<double>();
        var repro = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            startup.Add(Sh.Time(cairn, dir, "--version"));
            repro.Add(Sh.Time(cairn, dir, "repro"));
        }
        string output = Sh.Run(cairn, dir, "repro").Trim();
        Report("cairn --version (process start-up floor)", startup, null);
        Report($"cairn repro, 20 stages up to date (prints: \"{output}\")", repro, null);
        Console.WriteLine();
        Sh.Delete(dir);
    }

    public static void Checkout(string cairn, string work, int runs)
    {
        Console.WriteLine("## 4. Checkout of a cached 1 GiB dataset (64 files of 16 MiB) vs cp -r of the same data");
        string dir = Path.Combine(work, "checkout");
        Sh.Reset(dir);
        string src = Path.Combine(dir, "source");
        Directory.CreateDirectory(src);
        for (int i = 0; i < 64; i++) WriteRandomFile(Path.Combine(src, $"part{i:00}.bin"), 16L << 20, seed: i);
        Sh.Run("cp", dir, "-r", "source", "data");
        Sh.Run(cairn, dir, "data", "add", "data");
        var cp = new List<double>();
        var copy = new List<double>();
        var link = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            // Alternate who goes first, and flush dirty pages before each timed copy, so that neither
            // pays for the other's write-back.
            var order = i % 2 == 0 ? new[] { 0, 1, 2 } : new[] { 1, 0, 2 };
            foreach (var which in order)
            {
                Sh.Delete(Path.Combine(dir, "copy-of-source"));
                Sh.Delete(Path.Combine(dir, "data"));
                Sh.Sync();
                if (which == 0) cp.Add(Sh.Time("cp", dir, "-r", "source", "copy-of-source"));
                else if (which == 1) copy.Add(Sh.Time(cairn, dir, "data", "checkout", "--link-type", "copy"));
                else link.Add(Sh.Time(cairn, dir, "data", "checkout", "--link-type", "hardlink"));
            }
            Sh.Delete(Path.Combine(dir, "data"));
        }
        Report("cp -r source copy-of-source (1 GiB)", cp, 1.0);
        Report("cairn data checkout --link-type copy (1 GiB)", copy, 1.0);
        Report("cairn data checkout --link-type hardlink (1 GiB)", link, 1.0);
        Console.WriteLine();
        Sh.Delete(dir);
    }

    private static void WriteRandomFile(string path, long size, int seed = 42)
    {
        var rng = new Random(seed);
        var block = new byte[1 << 20];
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0);
        for (long done = 0; done < size; done += block.Length)
        {
            rng.NextBytes(block);
            fs.Write(block, 0, (int)Math.Min(block.Length, size - done));
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    private static void Report(string what, List<double> secs, double? gib)
    {
        double m = Median(secs);
        string rate = gib is double g ? $", {g / m * 1024:0} MiB/s" : "";
        Console.WriteLine($"- {what}: median {m:0.000} s{rate} (runs: {string.Join(", ", secs.Select(s => s.ToString("0.000", CultureInfo.InvariantCulture)))})");
    }
}

static class Sh
{
    public static string Run(string exe, string dir, params string[] args)
    {
        var (code, stdout, stderr) = Exec(exe, dir, args);
        if (code != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    public static double Time(string exe, string dir, params string[] args)
    {
        var sw = Stopwatch.StartNew();
        var (code, _, stderr) = Exec(exe, dir, args, discard: true);
        double s = sw.Elapsed.TotalSeconds;
        if (code != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {code}: {stderr}");
        return s;
    }

    private static (int, string, string) Exec(string exe, string dir, string[] args, bool discard = false)
    {
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string stdout;
        if (discard)
        {
            var buf = new char[1 << 16];
            while (p.StandardOutput.Read(buf, 0, buf.Length) > 0) { }
            stdout = "";
        }
        else stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, err.GetAwaiter().GetResult());
    }

    public static void Sync() => Run("sync", "/");

    public static void Reset(string dir)
    {
        Delete(dir);
        Directory.CreateDirectory(dir);
    }

    public static void MakeWritable(string file) { if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead); }

    public static void Delete(string path)
    {
        if (File.Exists(path)) File.Delete(path);
        else if (Directory.Exists(path)) Run("rm", "/", "-rf", path);
    }
}

sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var d = new Dictionary<string, string>();
        for (int i = 0; i + 1 < args.Length; i += 2) d[args[i]] = args[i + 1];
        return new Args(d);
    }

    public string? Get(string key) => values.GetValueOrDefault(key);
}
