namespace Cairn.ML.Training;

/// <summary>
/// Feature vectors of equal width in one dense row-major array (what a chain's <c>Features</c> column holds, row by row):
/// no array per row, and a row is a slice.
/// </summary>
internal sealed class FeatureRows(float[] values, int width)
{
    public float[] Values { get; } = values;

    public int Width { get; } = width;

    public int Count => Width == 0 ? 0 : Values.Length / Width;

    public ReadOnlySpan<float> this[int row] => new(Values, row * Width, Width);
}
