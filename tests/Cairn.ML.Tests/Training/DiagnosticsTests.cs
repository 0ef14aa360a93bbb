using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Cairn.Client;
using Cairn.ML.Training;

namespace Cairn.Tests.Training;

/// <summary>Permutation importance and the precision-recall figures.</summary>
public sealed class DiagnosticsTests : StoreTests
{
    /// <summary>y depends on a (strongly) and b (less), never on noise or on the category.</summary>
    private string Data(int rows = 1500)
    {
        var random = new Random(9);
        var csv = new StringBuilder("a,b,noise,tint,y\n");
        for (var i = 0; i < rows; i++)
        {
            double a = random.NextDouble() * 2 - 1, b = random.NextDouble() * 2 - 1, noise = random.NextDouble();
            var tint = random.Next(3) switch { 0 => "red", 1 => "green", _ => "blue" };
            var y = 3 * a + 1.2 * b + 0.3 * (random.NextDouble() - 0.5) > 0 ? "yes" : "no";
            csv.Append(CultureInfo.InvariantCulture, $"{a:0.####},{b:0.####},{noise:0.####},{tint},{y}\n");
        }
        var path = Dir.Combine("data.csv");
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    [Theory]
    [InlineData("fasttree")]
    [InlineData("lbfgs")]
    public async Task Permutation_importance_ranks_the_signal_above_the_noise_and_is_logged(string trainer)
    {
        Data();
        File.WriteAllText(Dir.Combine("recipe.yaml"), $"""
            task: binary
            data: data.csv
            label: y
            trainer: {trainer}
            """);

        var result = await Trainer.RunAsync(Recipe.Load(Dir.Combine("recipe.yaml")), Client, cancellationToken: Ct);

        var folder = Dir.Combine("download");
        await Client.DownloadArtifactsAsync(result.RunId, FeatureImportance.FileName, folder, Ct);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, FeatureImportance.FileName)))!;
        Assert.Equal("auc", json["metric"]!.GetValue<string>());
        var importance = json["features"]!.AsArray().ToDictionary(f => f!["feature"]!.GetValue<string>(), f => f!["importance"]!.GetValue<double>());
        Assert.Equal(["a", "b", "noise", "tint"], importance.Keys.Order());
        Assert.True(importance["a"] > importance["b"], $"a {importance["a"]}, b {importance["b"]}");
        Assert.True(importance["b"] > 0.02, $"b {importance["b"]}");
        Assert.InRange(importance["noise"], -0.01, 0.01);
        Assert.InRange(importance["tint"], -0.01, 0.01);
        // The file lists features from most to least important.
        Assert.Equal("a", json["features"]![0]!["feature"]!.GetValue<string>());
        Assert.Equal(300, json["rows"]!.GetValue<int>()); // the 20% held out of 1,500
    }

    [Fact]
    public async Task Feature_importance_false_skips_it()
    {
        Data(400);
        File.WriteAllText(Dir.Combine("recipe.yaml"), """
            task: binary
            data: data.csv
            label: y
            feature_importance: false
            trainer: {name: fasttree, hyperparameters: {number_of_trees: 5}}
            """);

        var result = await Trainer.RunAsync(Recipe.Load(Dir.Combine("recipe.yaml")), Client, cancellationToken: Ct);

        var files = (await Client.ListArtifactsAsync(result.RunId, cancellationToken: Ct)).Files.Select(f => f.Path).ToList();
        Assert.DoesNotContain(FeatureImportance.FileName, files);
        Assert.DoesNotContain("plots/feature_importance.png", (await Client.ListArtifactsAsync(result.RunId, "plots", Ct)).Files.Select(f => f.Path));
    }

    [Fact]
    public void Feature_importance_must_be_true_or_false()
    {
        var error = Assert.Throws<InvalidParameterValueException>(() => Recipe.Parse("task: binary\ndata: d.csv\nlabel: y\nfeature_importance: sometimes", "r.yaml"));
        Assert.Contains("invalid 'feature_importance'", error.Message);
    }

    [Fact]
    public void Curves_are_thinned_to_points_a_pixel_apart_keeping_both_ends()
    {
        // A ROC-like curve with 20,000 points, most of them closer together than the step.
        var random = new Random(4);
        var x = new double[20_000];
        var y = new double[20_000];
        for (var i = 1; i < x.Length; i++)
        {
            x[i] = Math.Min(1, x[i - 1] + random.NextDouble() / 10_000);
            y[i] = Math.Min(1, y[i - 1] + random.NextDouble() / 10_000);
        }
        const double step = 0.001;

        var (keptX, keptY) = Plots.Thin(x, y, step);

        Assert.InRange(keptX.Length, 100, 3000);
        Assert.Equal((x[0], y[0]), (keptX[0], keptY[0]));
        Assert.Equal((x[^1], y[^1]), (keptX[^1], keptY[^1]));
        // Every dropped point lies within the step of the last kept point before it, so no feature of the curve is lost.
        var k = 0;
        for (var i = 0; i < x.Length; i++)
        {
            while (k + 1 < keptX.Length && keptX[k + 1] <= x[i] && keptY[k + 1] <= y[i]) k++;
            Assert.True(Math.Abs(x[i] - keptX[k]) < step + 1e-12 && Math.Abs(y[i] - keptY[k]) < step + 1e-12 || i == x.Length - 1, $"point {i}");
        }
        var (twoX, twoY) = Plots.Thin([0, 1], [0, 1], step);
        Assert.Equal([0, 1], twoX);
        Assert.Equal([0, 1], twoY);
    }
}
