using System.Text.Json;
using Cairn.ML.Models;

namespace Cairn.Tests;

/// <summary>
/// Cairn.ML.Runtime is what a model server takes: it loads and scores ML.NET and ONNX model packages, and must not bring
/// the training side's plotting (ScottPlot, SkiaSharp) or Parquet reading with it.
/// </summary>
public sealed class RuntimeDependencyTests
{
    private static readonly string[] TrainingOnly = ["Cairn.ML", "ScottPlot", "SkiaSharp", "Parquet.Net"];

    [Fact]
    public void The_runtime_package_graph_has_the_model_loaders_and_none_of_the_training_packages()
    {
        var graph = PackageGraph();
        var runtime = Closure(graph, "Cairn.ML.Runtime");
        // Saved FastTree/FastForest and LightGbm chains resolve their loaders from these assemblies; ONNX needs its runtime.
        foreach (var needed in new[] { "Microsoft.ML", "Microsoft.ML.FastTree", "Microsoft.ML.LightGbm", "Microsoft.ML.OnnxRuntime", "YamlDotNet" })
            Assert.Contains(needed, runtime);
        foreach (var heavy in TrainingOnly) Assert.DoesNotContain(heavy, runtime);
        // The walk does see them where they are: the training project has them.
        var training = Closure(graph, "Cairn.ML");
        foreach (var heavy in TrainingOnly.Skip(1)) Assert.Contains(heavy, training);
    }

    [Fact]
    public void The_runtime_assembly_references_none_of_the_training_assemblies()
    {
        var references = typeof(ModelPackage).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("Microsoft.ML.Data", references);
        Assert.Contains("Microsoft.ML.OnnxRuntime", references);
        foreach (var heavy in new[] { "Cairn.ML", "ScottPlot", "SkiaSharp", "Parquet" }) Assert.DoesNotContain(heavy, references);
    }

    /// <summary>Project and package name → the names it depends on, from this test app's deps.json (the resolved graph).</summary>
    private static Dictionary<string, string[]> PackageGraph()
    {
        // The host lists the app's deps.json first, then the shared frameworks', separated by ';'.
        var depsFiles = AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string;
        Assert.False(string.IsNullOrEmpty(depsFiles), "the host names no deps.json");
        using var deps = JsonDocument.Parse(File.ReadAllText(depsFiles.Split(';')[0]));
        var graph = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var target in deps.RootElement.GetProperty("targets").EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
            {
                var name = library.Name[..library.Name.IndexOf('/', StringComparison.Ordinal)];
                graph[name] = library.Value.TryGetProperty("dependencies", out var on) ? on.EnumerateObject().Select(d => d.Name).ToArray() : [];
            }
        return graph;
    }

    private static HashSet<string> Closure(Dictionary<string, string[]> graph, string root)
    {
        Assert.True(graph.ContainsKey(root), $"'{root}' is not in the deps.json");
        var seen = new HashSet<string>(StringComparer.Ordinal) { root };
        var queue = new Queue<string>([root]);
        while (queue.TryDequeue(out var name))
            foreach (var dependency in graph.GetValueOrDefault(name, []))
                if (seen.Add(dependency)) queue.Enqueue(dependency);
        return seen;
    }
}
