using System.Globalization;
using System.Text.Json;

namespace Cairn.Monitoring;

/// <summary>How logged values, reference cells and ground truth become comparable numbers and category texts.</summary>
public static class MonitorValues
{
    /// <summary>A number as a category text: the shortest round-trip form, culture-invariant (1, 0.5, -3).</summary>
    public static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A boolean-ish text as <c>true</c>/<c>false</c> (true, 1, yes; false, 0, no), or null when it is none of those.</summary>
    public static string? BooleanText(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "1.0" or "yes" => "true",
        "false" or "0" or "0.0" or "no" => "false",
        _ => null,
    };

    /// <summary>A logged column as numbers (NaN where missing), or null when it is text or a tensor.</summary>
    internal static double[]? Numbers(Array values) => values switch
    {
        double[] d => d,
        float[] f => Array.ConvertAll(f, v => (double)v),
        long[] l => Array.ConvertAll(l, v => (double)v),
        int[] i => Array.ConvertAll(i, v => (double)v),
        _ => null,
    };

    /// <summary>A logged scalar column as category texts (null where missing), or null for a tensor column.</summary>
    internal static string?[]? Texts(Array values) => values switch
    {
        string?[] s => s,
        bool[] b => Array.ConvertAll(b, v => v ? "true" : "false"),
        double[] or float[] or long[] or int[] => Array.ConvertAll(Numbers(values)!, v => double.IsNaN(v) ? null : Text(v)),
        _ => null,
    };

    /// <summary>Whether a logged column is scalar (one value per row), not a tensor.</summary>
    internal static bool IsScalar(Array values) => values is double[] or float[] or long[] or int[] or bool[] or string?[];

    /// <summary>Ground truth JSON as a number, or NaN when it is not one (numbers, numeric strings and booleans as 1/0 count).</summary>
    internal static double TruthNumber(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        return e.ValueKind switch
        {
            JsonValueKind.Number => e.GetDouble(),
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            JsonValueKind.String when double.TryParse(e.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) => v,
            _ => double.NaN,
        };
    }

    /// <summary>Ground truth JSON as a category text (numbers as <see cref="Text(double)"/>), or null for an array, object or null.</summary>
    internal static string? TruthText(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        return e.ValueKind switch
        {
            JsonValueKind.String => e.GetString(),
            JsonValueKind.Number => Text(e.GetDouble()),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => null,
        };
    }
}
