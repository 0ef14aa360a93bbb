namespace Cairn.Metrics;

/// <summary>Sorting of scores for the ranking metrics.</summary>
internal static class ScoreSort
{
    /// <summary>
    /// Sorts ascending, as <see cref="Array.Sort(Array)"/> does: by a least-significant-digit radix sort of the values' bits
    /// (mapped so that unsigned order is numeric order) for the thousands of scores of a learning curve, where it costs a
    /// fraction of a comparison sort; short arrays and arrays holding NaN go to <see cref="Array.Sort(Array)"/>.
    /// </summary>
    public static void Sort(double[] values)
    {
        if (values.Length < 512 || Array.Exists(values, double.IsNaN))
        {
            Array.Sort(values);
            return;
        }
        const int bits = 11, buckets = 1 << bits, mask = buckets - 1;
        var keys = new ulong[values.Length];
        var spare = new ulong[values.Length];
        ulong differing = 0, first = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var raw = (ulong)BitConverter.DoubleToInt64Bits(values[i]);
            // Negative numbers: all bits flipped (larger magnitude sorts first); others: the sign bit set.
            keys[i] = (raw & 0x8000_0000_0000_0000UL) != 0 ? ~raw : raw | 0x8000_0000_0000_0000UL;
            if (i == 0) first = keys[0];
            differing |= keys[i] ^ first;
        }
        Span<int> counts = stackalloc int[buckets];
        for (var shift = 0; shift < 64; shift += bits)
        {
            if (((differing >> shift) & mask) == 0) continue; // every key has the same digit here
            counts.Clear();
            foreach (var key in keys) counts[(int)((key >> shift) & mask)]++;
            for (int d = 0, total = 0; d < buckets; d++) (counts[d], total) = (total, total + counts[d]);
            foreach (var key in keys) spare[counts[(int)((key >> shift) & mask)]++] = key;
            (keys, spare) = (spare, keys);
        }
        for (var i = 0; i < values.Length; i++)
        {
            var key = keys[i];
            values[i] = BitConverter.Int64BitsToDouble((long)((key & 0x8000_0000_0000_0000UL) != 0 ? key & 0x7FFF_FFFF_FFFF_FFFFUL : ~key));
        }
    }
}
