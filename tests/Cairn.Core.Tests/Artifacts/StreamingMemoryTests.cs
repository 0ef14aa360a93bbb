using System.Security.Cryptography;
using Cairn.Artifacts;

namespace Cairn.Tests.Artifacts;

/// <summary>Alone in its collection: GC.GetTotalAllocatedBytes counts the whole process, so nothing may run beside it.</summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class AllocationSensitive;

[Collection(typeof(AllocationSensitive))]
public sealed class StreamingMemoryTests
{
    [Fact]
    public async Task Writing_and_reading_200MB_allocates_a_small_fraction_of_that()
    {
        const long size = 200L << 20;
        using var temp = new TempDirectory();
        var store = new LocalArtifactStore(temp.Combine("root"));
        var ct = TestContext.Current.CancellationToken;
        // Warm up code paths (JIT, pools) so the measurement sees the steady state.
        await store.WriteAsync("warm.bin", new GeneratedStream(1 << 20), ct);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        await store.WriteAsync("big.bin", new GeneratedStream(size), ct);
        await using (var read = await store.OpenReadAsync("big.bin", ct))
        {
            var buffer = new byte[128 * 1024];
            long total = 0;
            int n;
            while ((n = await read.ReadAsync(buffer, ct)) > 0) total += n;
            Assert.Equal(size, total);
        }
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        // Buffering the body anywhere would allocate at least 200 MB; streaming needs a few buffers.
        Assert.True(allocated < 16L << 20, $"Streaming 200 MB allocated {allocated / (1 << 20)} MB.");
    }
}
