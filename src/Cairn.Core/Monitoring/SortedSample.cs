using System.Buffers;

namespace Cairn.Monitoring;

/// <summary>
/// A numeric column's present values sorted ascending, NaN (missing) dropped and counted. Sorting is an LSD radix sort over
/// the doubles' bits made order-preserving (sign bit flipped for positives, all bits for negatives), 16 bits a pass, and a
/// pass is skipped when every value has the same digit there: for a million values this is several times faster than a
/// comparison sort, and the statistics after it are single merges over sorted arrays.
/// </summary>
public sealed class SortedSample
{
    private SortedSample(double[] values, int missing)
    {
        Values = values;
        Missing = missing;
    }

    /// <summary>The present values, ascending.</summary>
    public double[] Values { get; }

    /// <summary>How many values were NaN (missing cells) and left out.</summary>
    public int Missing { get; }

    /// <summary>Sorts the present values of <paramref name="column"/> (NaN dropped); the column itself is not changed.</summary>
    public static SortedSample From(ReadOnlySpan<double> column)
    {
        // The two key buffers are pooled: a thread sorting column after column reuses them instead of faulting in fresh pages.
        var keys = ArrayPool<ulong>.Shared.Rent(Math.Max(1, column.Length));
        var scratch = ArrayPool<ulong>.Shared.Rent(Math.Max(1, column.Length));
        try
        {
            var count = 0;
            foreach (var value in column)
            {
                if (double.IsNaN(value)) continue;
                var bits = (ulong)BitConverter.DoubleToInt64Bits(value);
                keys[count++] = (bits & 0x8000_0000_0000_0000UL) != 0 ? ~bits : bits | 0x8000_0000_0000_0000UL;
            }
            var missing = column.Length - count;
            var sorted = RadixSort(keys.AsSpan(0, count), scratch.AsSpan(0, count));
            var values = GC.AllocateUninitializedArray<double>(count);
            for (var i = 0; i < count; i++)
            {
                var key = sorted[i];
                var bits = (key & 0x8000_0000_0000_0000UL) != 0 ? key & 0x7FFF_FFFF_FFFF_FFFFUL : ~key;
                values[i] = BitConverter.Int64BitsToDouble((long)bits);
            }
            return new SortedSample(values, missing);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(keys);
            ArrayPool<ulong>.Shared.Return(scratch);
        }
    }

    /// <summary>Sorts <paramref name="keys"/> using <paramref name="scratch"/>; returns the one of the two holding the result.</summary>
    private static Span<ulong> RadixSort(Span<ulong> keys, Span<ulong> scratch)
    {
        if (keys.Length < 2) return keys;
        if (keys.Length < 4096)
        {
            keys.Sort();
            return keys;
        }
        const int bits = 16, buckets = 1 << bits;
        var counts = new int[4 * buckets];
        foreach (var key in keys)
        {
            counts[(int)(key & 0xFFFF)]++;
            counts[buckets + (int)((key >> 16) & 0xFFFF)]++;
            counts[2 * buckets + (int)((key >> 32) & 0xFFFF)]++;
            counts[3 * buckets + (int)(key >> 48)]++;
        }
        Span<ulong> source = keys, target = scratch;
        for (var pass = 0; pass < 4; pass++)
        {
            var histogram = counts.AsSpan(pass * buckets, buckets);
            var shift = pass * bits;
            if (histogram[(int)((source[0] >> shift) & 0xFFFF)] == source.Length) continue; // one digit for all: nothing moves
            var offset = 0;
            for (var b = 0; b < buckets; b++)
            {
                var c = histogram[b];
                histogram[b] = offset;
                offset += c;
            }
            foreach (var key in source) target[histogram[(int)((key >> shift) & 0xFFFF)]++] = key;
            var swap = source;
            source = target;
            target = swap;
        }
        return source;
    }
}
