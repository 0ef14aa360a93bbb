using System.Buffers;

namespace Cairn.Monitoring;

/// <summary>
/// A numeric column's present values sorted ascending, NaN (missing) dropped and counted. Sorting is an LSD radix sort over
/// the doubles' bits made order-preserving (sign bit flipped for positives, all bits for negatives), 16 bits a pass, and a
/// pass is skipped when every value has the same digit there: for a million values this is several times faster than a
/// comparison sort, and the statistics after it are single merges over sorted arrays. Data read from text is mostly decimals
/// with a few digits after the point: when every value v of a column equals k / 10^d for an integer k (checked bit for bit,
/// d at most 9) and the k span less than 2^32, the k are sorted instead (32-bit keys, 11 bits a pass: two passes for a
/// million five-decimal values instead of four over 64-bit keys) and the values made again as k / 10^d, the same bits.
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
        var present = 0;
        foreach (var value in column) if (!double.IsNaN(value)) present++;
        var values = GC.AllocateUninitializedArray<double>(present);
        Sort(column, values);
        return new SortedSample(values, column.Length - present);
    }

    /// <summary>
    /// Writes the present values of <paramref name="column"/> (NaN dropped) ascending to the start of <paramref name="target"/>
    /// (at least as long as the present values) and returns how many there are; a caller with a pooled buffer sorts column
    /// after column without new arrays.
    /// </summary>
    public static int Sort(ReadOnlySpan<double> column, Span<double> target)
    {
        if (column.Length >= 4096 && TryDecimal(column, target) is var count and >= 0) return count;
        // The two key buffers are pooled: a thread sorting column after column reuses them instead of faulting in fresh pages.
        var keys = ArrayPool<ulong>.Shared.Rent(Math.Max(1, column.Length));
        var scratch = ArrayPool<ulong>.Shared.Rent(Math.Max(1, column.Length));
        try
        {
            count = 0;
            foreach (var value in column)
            {
                if (double.IsNaN(value)) continue;
                var bits = (ulong)BitConverter.DoubleToInt64Bits(value);
                keys[count++] = (bits & 0x8000_0000_0000_0000UL) != 0 ? ~bits : bits | 0x8000_0000_0000_0000UL;
            }
            var sorted = RadixSort(keys.AsSpan(0, count), scratch.AsSpan(0, count));
            var values = target[..count];
            for (var i = 0; i < count; i++)
            {
                var key = sorted[i];
                var bits = (key & 0x8000_0000_0000_0000UL) != 0 ? key & 0x7FFF_FFFF_FFFF_FFFFUL : ~key;
                values[i] = BitConverter.Int64BitsToDouble((long)bits);
            }
            return count;
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(keys);
            ArrayPool<ulong>.Shared.Return(scratch);
        }
    }

    private static readonly double[] PowersOfTen = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

    /// <summary>The fewest decimals that give <paramref name="value"/> back as an integer over a power of ten; -1 when none up to 9 do.</summary>
    private static int Decimals(double value)
    {
        for (var d = 0; d < PowersOfTen.Length; d++)
        {
            var k = Math.Round(value * PowersOfTen[d]);
            if (Math.Abs(k) < 9e15 && BitConverter.DoubleToInt64Bits(k / PowersOfTen[d]) == BitConverter.DoubleToInt64Bits(value)) return d;
        }
        return -1;
    }

    /// <summary>The sort over decimal keys (see the class) into <paramref name="target"/>; -1 when some value is not such a decimal or their span is too wide.</summary>
    private static int TryDecimal(ReadOnlySpan<double> column, Span<double> target)
    {
        // The decimals are guessed from 64 values spread over the column, then every value is checked.
        var decimals = 0;
        var step = column.Length / 64;
        for (var i = 0; i < column.Length; i += step)
        {
            if (double.IsNaN(column[i])) continue;
            var d = Decimals(column[i]);
            if (d < 0) return -1;
            decimals = Math.Max(decimals, d);
        }
        var scale = PowersOfTen[decimals];
        var keys = ArrayPool<long>.Shared.Rent(column.Length);
        var scratch = ArrayPool<uint>.Shared.Rent(column.Length);
        var sortedKeys = ArrayPool<uint>.Shared.Rent(column.Length);
        try
        {
            int count = 0, negativeZeros = 0;
            long min = long.MaxValue, max = long.MinValue;
            foreach (var value in column)
            {
                if (double.IsNaN(value)) continue;
                var k = Math.Round(value * scale);
                // Infinities and values with more decimals fail here (the check is on the bits). -0 has the key 0 and is
                // counted, to be put back before the +0s.
                var bits = BitConverter.DoubleToInt64Bits(value);
                if (bits == long.MinValue) negativeZeros++;
                else if (!(Math.Abs(k) < 9e15) || BitConverter.DoubleToInt64Bits(k / scale) != bits) return -1;
                var key = (long)k;
                keys[count++] = key;
                if (key < min) min = key;
                if (key > max) max = key;
            }
            if (count == 0 || max - min > uint.MaxValue) return -1;
            var offsets = sortedKeys.AsSpan(0, count);
            for (var i = 0; i < count; i++) offsets[i] = (uint)(keys[i] - min);
            var sorted = RadixSort(offsets, scratch.AsSpan(0, count), (ulong)(max - min));
            var values = target[..count];
            for (var i = 0; i < count; i++) values[i] = (min + sorted[i]) / scale;
            if (negativeZeros > 0)
            {
                var zero = values.BinarySearch(0.0);
                while (zero > 0 && values[zero - 1] == 0) zero--;
                for (var i = 0; i < negativeZeros; i++) values[zero + i] = -0.0;
            }
            return count;
        }
        finally
        {
            ArrayPool<long>.Shared.Return(keys);
            ArrayPool<uint>.Shared.Return(scratch);
            ArrayPool<uint>.Shared.Return(sortedKeys);
        }
    }

    /// <summary>LSD radix sort of 32-bit keys at most <paramref name="largest"/>, 11 bits a pass, only the passes the span needs.</summary>
    private static Span<uint> RadixSort(Span<uint> keys, Span<uint> scratch, ulong largest)
    {
        const int bits = 11, buckets = 1 << bits, mask = buckets - 1;
        var passes = 0;
        for (var span = largest; span > 0; span >>= bits) passes++;
        var counts = new int[buckets];
        Span<uint> source = keys, target = scratch;
        for (var pass = 0; pass < passes; pass++)
        {
            var shift = pass * bits;
            Array.Clear(counts);
            foreach (var key in source) counts[(int)(key >> shift) & mask]++;
            var offset = 0;
            for (var b = 0; b < buckets; b++)
            {
                var c = counts[b];
                counts[b] = offset;
                offset += c;
            }
            foreach (var key in source) target[counts[(int)(key >> shift) & mask]++] = key;
            var swap = source;
            source = target;
            target = swap;
        }
        return source;
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
