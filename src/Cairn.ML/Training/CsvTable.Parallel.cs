using Cairn.Data;

namespace Cairn.ML.Training;

// The parallel read of a large CSV file: cut at newlines into chunks, each parsed by its own CsvReader over its byte range
// straight into the columns' final arrays, with the sequential read's typing rule (docs/MONITORING.md).
public sealed partial class CsvTable
{
    /// <summary>
    /// The parallel read: the file is cut at newlines into chunks of about <paramref name="chunkBytes"/> (at most four per core),
    /// each chunk parsed by its own <see cref="CsvReader"/> over its byte range on the thread pool, straight into the columns'
    /// final arrays at the chunk's place (sized from a first pass that counts each chunk's newlines, so nothing is copied
    /// unless blank lines leave gaps to close). The typing rule is the sequential read's, decided over all chunks: numbers when
    /// every chunk kept numbers, strings when every chunk that has values began with one that is not a number, and otherwise
    /// (numbers, then not) a column whose strings are read again when asked for. Null when the file cannot be cut this way:
    /// smaller than two chunks, a UTF-16/32 byte order mark, or a quote anywhere (a quoted field may hold a newline).
    /// </summary>
    private static CsvTable? TryReadParallel(string path, List<string> names, IReadOnlyCollection<string>? textColumns, bool hash, int chunkBytes)
    {
        var length = new FileInfo(path).Length;
        var chunks = (int)Math.Min(length / chunkBytes, Environment.ProcessorCount * 4L);
        if (chunks < 2) return null;
        var starts = ChunkStarts(path, length, chunks);
        if (starts is null) return null;
        chunks = starts.Length - 1;
        // First pass, in parallel: each chunk's newlines, and whether a quote is anywhere.
        var newlines = new long[chunks];
        var quoted = 0;
        var lastByte = (byte)'\n';
        Parallel.For(0, chunks, k =>
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            file.Position = starts[k];
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                long count = 0, left = starts[k + 1] - starts[k];
                while (left > 0 && Volatile.Read(ref quoted) == 0)
                {
                    var read = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                    if (read == 0) break;
                    var span = buffer.AsSpan(0, read);
                    count += span.Count((byte)'\n');
                    if (span.Contains((byte)'"')) Volatile.Write(ref quoted, 1);
                    left -= read;
                    if (left == 0 && k == chunks - 1) lastByte = span[^1];
                }
                newlines[k] = count;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        });
        if (quoted != 0) return null;
        // A chunk holds at most its newlines' rows (the last one more when the file does not end with one, the first one
        // less for the header); the columns' arrays hold the chunks back to back at those places.
        var capacities = new int[chunks];
        var places = new int[chunks + 1];
        var linesBefore = new int[chunks];
        long lines = 0, total = 0;
        for (var k = 0; k < chunks; k++)
        {
            var capacity = newlines[k] + (k == chunks - 1 && lastByte != (byte)'\n' ? 1 : 0) - (k == 0 ? 1 : 0);
            if (lines > int.MaxValue || total + capacity > Array.MaxLength) return null;
            capacities[k] = (int)Math.Max(0, capacity);
            linesBefore[k] = (int)lines;
            places[k] = (int)total;
            lines += newlines[k];
            total += capacities[k];
        }
        places[chunks] = (int)total;
        var texts = names.Select(n => textColumns?.Contains(n) == true).ToArray();
        var numberArrays = texts.Select(t => t ? null : GC.AllocateUninitializedArray<double>((int)total)).ToArray();
        var textArrays = texts.Select(t => t ? new string?[total] : null).ToArray();
        var digest = hash ? Task.Run(() => HashFile(path)) : null;
        var builders = new ColumnBuilder[chunks][];
        var rows = new int[chunks];
        var errors = new Exception?[chunks];
        var firstFailure = int.MaxValue;
        Parallel.For(0, chunks, k =>
        {
            try
            {
                using var reader = CsvReader.OpenRange(path, starts[k], starts[k + 1] - starts[k], linesBefore[k]);
                if (k == 0) reader.Read(); // the header
                var chunk = builders[k] = names.Select((_, c) => new ColumnBuilder(numberArrays[c], textArrays[c], places[k], capacities[k])).ToArray();
                var row = 0;
                while (reader.Read())
                {
                    if (reader.FieldCount != names.Count)
                        throw new InvalidParameterValueException($"{path}: line {reader.Line} has {reader.FieldCount} fields but the header has {names.Count}.");
                    if (row == capacities[k]) throw new InvalidStateException($"{path}: the file changed while it was being read (line {reader.Line}).");
                    for (var c = 0; c < chunk.Length; c++) chunk[c].Add(reader, c, row);
                    row++;
                    // A chunk after one that failed stops: only the first error in the file is reported.
                    if ((row & 8191) == 0 && Volatile.Read(ref firstFailure) < k) return;
                }
                rows[k] = row;
            }
            catch (Exception e) when (e is CairnException or IOException)
            {
                errors[k] = e;
                InterlockedMin(ref firstFailure, k);
            }
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        var rowCount = rows.Sum();
        if (rowCount == 0) throw new InvalidParameterValueException($"{path}: the file has a header but no data rows.");
        var firsts = new int[chunks];
        for (var k = 1; k < chunks; k++) firsts[k] = firsts[k - 1] + rows[k - 1];
        var columns = new Column[names.Count];
        for (var c = 0; c < names.Count; c++)
        {
            var parts = builders.Select(b => b[c]).ToArray();
            if (texts[c]) columns[c] = new Column { Text = Close(textArrays[c]!, places, firsts, rows, rowCount) };
            else if (parts.All(p => p.IsNumbers)) columns[c] = new Column { Numbers = Close(numberArrays[c]!, places, firsts, rows, rowCount) };
            else if (parts.All(p => p.IsText || !p.AnyNumber))
            {
                // Every chunk with values began with a non-number: strings, as the sequential read holds them.
                var text = new string?[rowCount];
                for (var k = 0; k < chunks; k++)
                    if (parts[k].IsText) Array.Copy(parts[k].ChunkText!, 0, text, firsts[k], rows[k]);
                columns[c] = new Column { Text = text };
            }
            else
            {
                var bad = Enumerable.Range(0, chunks).Where(k => parts[k].FirstNonNumber >= 0).Select(k => firsts[k] + parts[k].FirstNonNumber).Min();
                columns[c] = new Column { BadRow = bad };
            }
        }
        return new CsvTable(path, names, columns, rowCount, digest?.GetAwaiter().GetResult());
    }

    /// <summary>Moves the chunks' rows from their places to their final rows (closing the gaps blank lines left) and trims.</summary>
    private static T[] Close<T>(T[] values, int[] places, int[] firsts, int[] rows, int rowCount)
    {
        for (var k = 0; k < rows.Length; k++)
            if (places[k] != firsts[k]) Array.Copy(values, places[k], values, firsts[k], rows[k]);
        if (values.Length != rowCount) Array.Resize(ref values, rowCount);
        return values;
    }

    /// <summary>
    /// The byte offsets the chunks start at: the first after the next newline at or after each of <paramref name="chunks"/>
    /// equal cuts, then the file's length; null for a UTF-16/32 file (its newlines are not single bytes).
    /// </summary>
    private static long[]? ChunkStarts(string path, long length, int chunks)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Span<byte> buffer = stackalloc byte[4096];
        var head = buffer[..file.Read(buffer)];
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]) || head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || head.StartsWith((ReadOnlySpan<byte>)[0, 0, 0xFE, 0xFF]))
            return null;
        var starts = new List<long> { 0 };
        for (var k = 1; k < chunks; k++)
        {
            var at = Math.Max(length * k / chunks, starts[^1]);
            file.Position = at;
            while (true)
            {
                var read = file.Read(buffer);
                if (read == 0)
                {
                    at = length;
                    break;
                }
                var newline = buffer[..read].IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    at += newline + 1;
                    break;
                }
                at += read;
            }
            if (at > starts[^1] && at < length) starts.Add(at);
        }
        starts.Add(length);
        return starts.Count > 2 ? [.. starts] : null;
    }

    private static string HashFile(string path)
    {
        using var sha256 = CsvReader.Sha256();
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int read;
            while ((read = file.Read(buffer, 0, buffer.Length)) > 0) sha256.AppendData(buffer, 0, read);
            return CsvReader.Hex(sha256);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void InterlockedMin(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value < seen)
        {
            var was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen) return;
            seen = was;
        }
    }
}
