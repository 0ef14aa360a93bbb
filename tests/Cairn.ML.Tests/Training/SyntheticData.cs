using System.Globalization;
using System.Text;

namespace Cairn.Tests.Training;

/// <summary>Generated CSV files with a known signal, so trained models must score well.</summary>
internal static class SyntheticData
{
    /// <summary>y (yes/no) from 2·x1 − 1.5·x2 + [color = red] plus noise; x1 is missing in about 1% of rows (none with <paramref name="missing"/> off).</summary>
    public static string Binary(string path, int rows = 2000, int seed = 1, bool missing = true)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("x1,x2,color,y\n");
        string[] colors = ["red", "green", "blue"];
        for (var i = 0; i < rows; i++)
        {
            double x1 = Normal(random), x2 = Normal(random);
            var color = colors[random.Next(3)];
            var logit = 2 * x1 - 1.5 * x2 + (color == "red" ? 1 : 0) + 0.5 * Normal(random);
            var x1Text = random.NextDouble() < 0.01 && missing ? "" : F(x1);
            csv.Append(CultureInfo.InvariantCulture, $"{x1Text},{F(x2)},{color},{(logit > 0 ? "yes" : "no")}\n");
        }
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    /// <summary>Three well-separated clusters in (a, b) named setosa, versicolor, virginica.</summary>
    public static string Multiclass(string path, int rows = 1500, int seed = 2)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("a,b,species\n");
        (string Name, double A, double B)[] centers = [("setosa", 0, 0), ("versicolor", 4, 4), ("virginica", -4, 4)];
        for (var i = 0; i < rows; i++)
        {
            var c = centers[random.Next(3)];
            csv.Append(CultureInfo.InvariantCulture, $"{F(c.A + Normal(random))},{F(c.B + Normal(random))},{c.Name}\n");
        }
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    /// <summary>price = 3·size − 2·age + 5 plus a little noise.</summary>
    public static string Regression(string path, int rows = 2000, int seed = 3)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("size,age,price\n");
        for (var i = 0; i < rows; i++)
        {
            double size = Normal(random) * 2, age = Normal(random) * 2;
            csv.Append(CultureInfo.InvariantCulture, $"{F(size)},{F(age)},{F(3 * size - 2 * age + 5 + 0.3 * Normal(random))}\n");
        }
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static string F(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
