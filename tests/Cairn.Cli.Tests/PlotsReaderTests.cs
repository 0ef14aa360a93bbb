using Cairn.Cli.Commands;
using Xunit;

namespace Cairn.Tests;

public sealed class PlotsReaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_csv_plot_file_reads_quoted_fields_holding_commas()
    {
        _dir.Write("plots/loss.csv", "step,\"loss, train\",note\n0,1.5,\"warm, up\"\n1,\"0.75\",x\n");

        var table = PlotsCommands.ReadTable(_dir["plots/loss.csv"], "plots/loss.csv");

        Assert.Equal(["step", "loss, train", "note"], table.Select(c => c.Name));
        Assert.Equal([0.0, 1.0], table[0].Values);
        Assert.Equal([1.5, 0.75], table[1].Values);
        Assert.All(table[2].Values, v => Assert.True(double.IsNaN(v))); // text is not a number
    }
}
