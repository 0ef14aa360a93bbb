using Cairn.ML.Training;

namespace Cairn.Tests.Training;

public sealed class CsvTableTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string Write(string text, bool bom = false)
    {
        var path = _dir.Combine($"t{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, text, new System.Text.UTF8Encoding(bom));
        return path;
    }

    [Fact]
    public void Quoted_fields_keep_commas_newlines_and_doubled_quotes()
    {
        var table = CsvTable.Read(Write("id,note,score\r\n1,\"red, green\",0.5\r\n2,\"two\nlines\",\r\n\r\n3,\"say \"\"hi\"\"\", 7 \r\n4,\"\",-1e3"));

        Assert.Equal(["id", "note", "score"], table.Names);
        Assert.Equal(4, table.RowCount);
        Assert.Equal(new string?[] { "red, green", "two\nlines", "say \"hi\"", "" }, table["note"].AsEnumerable());
        Assert.Equal(new string?[] { "0.5", null, "7", "-1e3" }, table["score"].AsEnumerable()); // unquoted fields are trimmed; empty is null
        Assert.True(table.TryNumbers("score", out var numbers, out _));
        Assert.Equal([0.5, double.NaN, 7, -1000], numbers);
        Assert.False(table.TryNumbers("note", out _, out var bad));
        Assert.Equal(0, bad);
    }

    [Fact]
    public void A_byte_order_mark_and_a_missing_final_newline_are_fine()
    {
        var table = CsvTable.Read(Write("a,b\n1,2\n3,4", bom: true));

        Assert.Equal(["a", "b"], table.Names);
        Assert.Equal(new string?[] { "2", "4" }, table["b"].AsEnumerable());
    }

    [Theory]
    [InlineData(3000, false, false)]
    [InlineData(3000, true, false)]
    [InlineData(2500, false, true)]
    public void Columns_hold_exactly_the_rows_whatever_the_newline_count_says(int rows, bool finalNewline, bool quotedNewlinesAndBlankLines)
    {
        // Columns are sized from the file's newline count: quoted newlines and blank lines make it too large, a missing final
        // newline one less than the lines; every column must still hold exactly the rows, with the last one in place.
        var text = new System.Text.StringBuilder("x,note\n");
        for (var i = 0; i < rows; i++)
        {
            text.Append(i).Append(',').Append(quotedNewlinesAndBlankLines && i % 100 == 0 ? "\"a\nb\"" : "n").Append('\n');
            if (quotedNewlinesAndBlankLines && i % 250 == 0) text.Append('\n');
        }
        var body = finalNewline ? text.ToString() : text.ToString().TrimEnd('\n');
        var table = CsvTable.Read(Write(body), ["note"]);
        Assert.Equal(rows, table.RowCount);
        Assert.True(table.TryNumbers("x", out var numbers, out _));
        Assert.Equal(rows, numbers.Length);
        Assert.Equal(rows - 1, numbers[^1]);
        Assert.Equal(rows, table["note"].Length);
        Assert.Equal(quotedNewlinesAndBlankLines ? "a\nb" : "n", table["note"][0]);
    }

    [Theory]
    [InlineData("", "the file is empty")]
    [InlineData("a,b\n", "has a header but no data rows")]
    [InlineData("a,a\n1,2\n", "names column 'a' twice")]
    [InlineData("a,,c\n1,2,3\n", "column 2 of the header has no name")]
    [InlineData("a,b\n1,2\n3\n", "line 3 has 1 fields but the header has 2")]
    [InlineData("a,b\n1,\"open\n2,3\n", "line 2 has a quoted field that is never closed")]
    [InlineData("a,b\n1,\"x\ny\"\n3,4,5\n", "line 4 has 3 fields")]
    public void Bad_files_are_refused_naming_the_file_and_line(string text, string message)
    {
        var path = Write(text);

        var error = Assert.Throws<InvalidParameterValueException>(() => CsvTable.Read(path));

        Assert.StartsWith(path + ":", error.Message);
        Assert.Contains(message, error.Message);
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Numbers_parse_to_the_same_bits_as_double_parse()
    {
        var random = new Random(5);
        var samples = new List<string>
        {
            "0", "-0", "0.0", "-0.0", "5.", ".5", "+3", "-2.25", "007", "0.1", "0.3", "1e5", "1E-3", "-1.5e+2", "123456789012345",
            "1234567890123456", "12345678901234567890", "0.000000000000001", "9007199254740993", "3.141592653589793238",
            "1,0", " 1", "1 ", "", "-", "+", ".", "..5", "1.2.3", "NaN", "Infinity", "-Infinity", "0x10", "1_000", "٣",
        };
        for (var i = 0; i < 2000; i++)
        {
            var value = (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-8, 12));
            samples.Add(value.ToString(random.Next(4) switch { 0 => "R", 1 => "0.#####", 2 => "0.###############", _ => "F3" }, System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var text in samples)
        {
            var expectedOk = double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var expected);
            Assert.Equal(expectedOk, CsvTable.TryNumber(text, out var actual));
            if (expectedOk) Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual), $"'{text}': {expected:R} vs {actual:R}");
        }
    }

    [Fact]
    public void A_utf8_byte_order_mark_is_not_part_of_the_first_column_name()
    {
        var table = CsvTable.Read(Write("größe,y\n1.5,ja\n", bom: true));

        Assert.Equal(["größe", "y"], table.Names);
        Assert.Equal(new string?[] { "ja" }, table["y"].AsEnumerable());
    }

    [Fact]
    public void The_digest_hashed_while_parsing_is_the_files_sha256()
    {
        var path = Write("a,b\r\n1,\"x, y\"\r\n2,z\r\n", bom: true);

        var table = CsvTable.Read(path);

        Assert.Equal(TrainingData.HashFile(path), table.Sha256);
    }

    [Fact]
    public void Columns_parsed_as_numbers_give_their_text_as_written_and_a_late_non_number_is_found()
    {
        var path = Write("n,m,t\n1.50,1,a\n007,2,b\n,x,c\n");

        var table = CsvTable.Read(path, textColumns: ["t"]);

        Assert.True(table.TryNumbers("n", out var numbers, out _));
        Assert.Equal([1.5, 7, double.NaN], numbers);
        Assert.Equal(new string?[] { "1.50", "007", null }, table["n"].AsEnumerable()); // read again for the text
        Assert.False(table.TryNumbers("m", out _, out var bad));
        Assert.Equal(2, bad);
        Assert.Equal(new string?[] { "1", "2", "x" }, table["m"].AsEnumerable());
        Assert.Equal(new string?[] { "a", "b", "c" }, table["t"].AsEnumerable());
    }

    [Fact]
    public void A_column_empty_before_its_first_text_is_a_column_of_strings()
    {
        var table = CsvTable.Read(Write("a,b\n,1\nred,2\n"));

        Assert.False(table.TryNumbers("a", out _, out var bad));
        Assert.Equal(1, bad);
        Assert.Equal(new string?[] { null, "red" }, table["a"].AsEnumerable());
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void The_parallel_read_gives_what_the_sequential_read_gives(bool finalNewline, bool utf8Mark)
    {
        // Chunks of 512 bytes: many chunks, each parsed on its own, with blank lines (gaps to close), a column that is numbers
        // and then not (late in the file), one that is strings only from a later chunk on, one empty in whole chunks, a text
        // column, a missing final newline and a byte order mark.
        var random = new Random(3);
        var text = new System.Text.StringBuilder("x, late ,words,sparse,label\n");
        const int rows = 4000;
        for (var i = 0; i < rows; i++)
        {
            var value = Math.Round((random.NextDouble() - 0.5) * 1000, random.Next(6)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var late = i == 3217 ? "oops" : (i % 7).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var words = i < 1500 ? "" : "w" + (i % 13);
            var present = i % 900 < 450 ? "" : "2.5";
            text.Append(value).Append(',').Append(late).Append(',').Append(words).Append(',').Append(present).Append(",l").Append(i % 3).Append('\n');
            if (i % 333 == 0) text.Append("\n  \n");
        }
        var path = Write(finalNewline ? text.ToString() : text.ToString().TrimEnd('\n'), utf8Mark);

        var sequential = CsvTable.Read(path, ["label"], hash: true, chunkBytes: int.MaxValue);
        var parallel = CsvTable.Read(path, ["label"], hash: true, chunkBytes: 512);

        Assert.Equal(["x", "late", "words", "sparse", "label"], parallel.Names);
        Assert.Equal(rows, sequential.RowCount);
        Assert.Equal(rows, parallel.RowCount);
        Assert.Equal(TrainingData.HashFile(path), parallel.Sha256);
        Assert.True(parallel.TryNumbers("x", out var x, out _));
        Assert.True(sequential.TryNumbers("x", out var expectedX, out _));
        Assert.Equal(expectedX.Select(BitConverter.DoubleToInt64Bits), x.Select(BitConverter.DoubleToInt64Bits));
        Assert.True(parallel.TryNumbers("sparse", out var sparse, out _));
        Assert.Equal(4 * 450, sparse.Count(v => !double.IsNaN(v))); // rows 450-899 of every 900, none of the last 400
        Assert.False(parallel.TryNumbers("late", out _, out var badRow));
        Assert.Equal(3217, badRow);
        Assert.False(parallel.TryNumbers("words", out _, out var firstWord));
        Assert.Equal(1500, firstWord);
        foreach (var name in parallel.Names) Assert.Equal(sequential[name].AsEnumerable(), parallel[name].AsEnumerable());
    }

    [Fact]
    public void The_parallel_read_names_the_line_of_a_bad_row_in_a_later_chunk()
    {
        var text = new System.Text.StringBuilder("a,b\n");
        for (var i = 0; i < 3000; i++) text.Append(i).Append(i == 2500 ? "\n" : ",1\n");
        var path = Write(text.ToString());

        var error = Assert.Throws<InvalidParameterValueException>(() => CsvTable.Read(path, null, hash: false, chunkBytes: 512));

        Assert.Equal($"{path}: line 2502 has 1 fields but the header has 2.", error.Message);
    }
}
