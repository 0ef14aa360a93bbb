using System.Text;
using Cairn.Serving;

namespace Cairn.Tests.Serving;

/// <summary>The router's statistics: weighted splits, sticky keys, weight 0, shadows, and no allocation on the hot path.</summary>
public sealed class DeploymentRouterTests
{
    private const int Picks = 100_000;

    private static DeploymentRouter Router(params DeploymentRoute[] routes) => new(routes);

    [Theory]
    [InlineData(90, 10, 0)]
    [InlineData(50, 50, 0)]
    [InlineData(34, 33, 33)]
    [InlineData(1, 0, 99)]
    public void Random_picks_follow_the_weights(int a, int b, int c)
    {
        var router = Router(DeploymentRoute.Primary("models:/m/1", a), DeploymentRoute.Primary("models:/m/2", b), DeploymentRoute.Primary("models:/m/3", c));
        var counts = new int[3];
        for (var i = 0; i < Picks; i++) counts[router.PickIndex(default)]++;
        AssertSplit([a, b, c], counts);
    }

    [Fact]
    public void Sticky_keys_split_as_the_weights_say_and_one_key_always_gets_the_same_route()
    {
        var router = Router(DeploymentRoute.Primary("models:/m/1", 70), DeploymentRoute.Primary("models:/m/2", 20), DeploymentRoute.Primary("models:/m/3", 10));
        var counts = new int[3];
        var first = new int[Picks];
        for (var i = 0; i < Picks; i++) counts[first[i] = router.PickIndex($"user-{i}")]++;
        AssertSplit([70, 20, 10], counts);

        // Asked again (and by another router over the same routes, as after a restart): the same answer for every key.
        var again = Router(router.Primaries.ToArray());
        for (var i = 0; i < Picks; i++)
        {
            Assert.Equal(first[i], router.PickIndex($"user-{i}"));
            Assert.Equal(first[i], again.PickIndex($"user-{i}"));
        }
    }

    [Fact]
    public void A_key_hashes_alike_as_chars_and_as_utf8_bytes_even_past_the_stack_buffer()
    {
        foreach (var key in new[] { "a", "user-42", "ünïcødé-ключ-鍵", new string('é', 1000) + "🙂", "x" + new string('鍵', 300) })
        {
            Assert.Equal(DeploymentRouter.BucketUtf8(Encoding.UTF8.GetBytes(key)), DeploymentRouter.Bucket(key));
            Assert.InRange(DeploymentRouter.Bucket(key), 0, 99);
        }
        var router = Router(DeploymentRoute.Primary("models:/m/1", 50), DeploymentRoute.Primary("models:/m/2", 50));
        Assert.Equal(router.Pick("user-7"), router.PickUtf8("user-7"u8));
    }

    [Fact]
    public void A_route_of_weight_0_is_never_picked()
    {
        var router = Router(DeploymentRoute.Primary("models:/m/1", 0), DeploymentRoute.Primary("models:/m/2", 100), DeploymentRoute.Primary("models:/m/3", 0));
        for (var i = 0; i < Picks; i++)
        {
            Assert.Equal(1, router.PickIndex(default));
            Assert.Equal(1, router.PickIndex($"k{i}"));
        }
    }

    [Fact]
    public void Shadows_are_apart_from_the_primaries()
    {
        var router = new DeploymentRouter(new Deployment("d", null,
            [DeploymentRoute.Shadow("models:/s/1"), DeploymentRoute.Primary("models:/m/1", 100), DeploymentRoute.Shadow("models:/s/2")], null, 1, 0, null, 0, null));
        Assert.Equal(["models:/s/1", "models:/s/2"], router.Shadows.Select(r => r.ModelUri));
        Assert.Equal("models:/m/1", router.Pick("anyone").ModelUri);
        Assert.Equal("d", router.Deployment!.Name);
    }

    [Fact]
    public void Routes_that_break_a_rule_make_no_router() =>
        Assert.Throws<InvalidParameterValueException>(() => Router(DeploymentRoute.Primary("models:/m/1", 60)));

    [Fact]
    public void Picking_allocates_nothing()
    {
        var router = Router(DeploymentRoute.Primary("models:/m/1", 50), DeploymentRoute.Primary("models:/m/2", 50), DeploymentRoute.Shadow("models:/s/1"));
        var key = "user-123456".AsSpan();
        var utf8 = "user-123456"u8;
        var sum = router.PickIndex(key) + router.PickIndex(default) + router.PickIndexUtf8(utf8); // warm up
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
            sum += router.PickIndex(key) + router.PickIndex(default) + router.PickIndexUtf8(utf8) + router.Shadows.Count;
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sum >= 0);
    }

    /// <summary>Each share within 1 percentage point of its weight (100k picks: a binomial's sd is at most 0.16 points).</summary>
    private static void AssertSplit(int[] weights, int[] counts)
    {
        for (var i = 0; i < weights.Length; i++)
        {
            var share = 100.0 * counts[i] / counts.Sum();
            Assert.True(Math.Abs(share - weights[i]) <= 1.0, $"route {i}: {share:F2}% for weight {weights[i]} ({string.Join(", ", counts)})");
            if (weights[i] == 0) Assert.Equal(0, counts[i]);
        }
    }
}
