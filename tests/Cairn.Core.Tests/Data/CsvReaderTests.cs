using System.Security.Cryptography;
using System.Text;
using Cairn.Data;
using Cairn.Pipelines;
using Xunit;

namespace Cairn.Tests.Data;

public sealed class CsvReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static List<string?[]> ReadAll(CsvReader reader)
    {
        var records = new List<string?[]>();
        while (reader.Read()) records.Add(reader.Record());
        return records;
    }

    [Fact]
    public void Quoted_fields_keep_separators_quotes_and_newlines_and_unquoted_ones_are_trimmed()
    {
        using var reader = CsvReader.OpenText("a,b,c\r\n 1 ,\"x, y\",\"say \"\"hi\"\"\"\n\n2,\"two\nlines\",\"\"\n3,,\n", "t.csv");

        var records = ReadAll(reader);

        Assert.Equal(4, records.Count); // the blank line is skipped
        Assert.Equal(new string?[] { "a", "b", "c" }, records[0].AsEnumerable());
        Assert.Equal(new string?[] { "1", "x, y", "say \"hi\"" }, records[1].AsEnumerable());
        Assert.Equal(new string?[] { "2", "two\nlines", "" }, records[2].AsEnumerable()); // a quoted empty field is an empty string
        Assert.Equal(new string?[] { "3", null, null }, records[3].AsEnumerable());      // unquoted empty fields are missing
    }

    [Fact]
    public void Records_know_the_line_they_start_on()
    {
        using var reader = CsvReader.OpenText("a,b\n1,\"x\ny\"\n3,4\n", "t.csv");
        var lines = new List<int>();
        while (reader.Read()) lines.Add(reader.Line);

        Assert.Equal([1, 2, 4], lines);
    }

    [Fact]
    public void A_quote_never_closed_is_refused_naming_the_file_and_line()
    {
        using var reader = CsvReader.OpenText("a,b\n1,\"open\n2,3\n", "t.csv");
        reader.Read();
        reader.Read();

        var error = Assert.Throws<InvalidParameterValueException>(() => reader.Record());

        Assert.Equal("t.csv: line 2 has a quoted field that is never closed.", error.Message);
    }

    [Fact]
    public void The_digest_of_a_file_read_through_it_is_its_sha256()
    {
        var path = _dir.Combine("d.csv");
        var text = new StringBuilder("x,y\r\n");
        for (var i = 0; i < 50_000; i++) text.Append(i).Append(",\"v ").Append(i % 7).Append("\"\r\n");
        File.WriteAllText(path, text.ToString(), new UTF8Encoding(true));

        using var hash = CsvReader.Sha256();
        using (var reader = CsvReader.Open(path, ',', hash))
        {
            reader.Read();
            reader.Read(); // stops early: Finish reads the rest
            reader.Finish();
        }

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), CsvReader.Hex(hash));
    }

    [Fact]
    public void A_csv_metrics_file_reads_a_quoted_field_holding_a_comma()
    {
        var values = MetricsFile.Parse("name,\"acc, test\",loss\nfirst,0.5,1\n\"run, final\",0.9,\"0.25\"\n", "metrics.csv");

        Assert.Equal("run, final", values["name"]);
        Assert.Equal("0.9", values["acc, test"]);
        Assert.Equal("0.25", values["loss"]);
        Assert.Equal(0.9, MetricsFile.Numeric(values)["acc, test"]);
    }

    [Fact]
    public void A_tsv_metrics_file_splits_on_tabs()
    {
        var values = MetricsFile.Parse("acc\tnote\n0.7\ta, b\n", "m.tsv");

        Assert.Equal("0.7", values["acc"]);
        Assert.Equal("a, b", values["note"]);
    }
}
