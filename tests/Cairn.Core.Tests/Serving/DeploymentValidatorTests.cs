using Cairn.Serving;

namespace Cairn.Tests.Serving;

/// <summary>Each rule of a deployment, refused with one message naming the field and the rule.</summary>
public sealed class DeploymentValidatorTests
{
    private static readonly DeploymentRoute Champion = DeploymentRoute.Primary("models:/churn@champion", 100);

    private static string Refusal(DeploymentSpec spec) => Assert.Throws<InvalidParameterValueException>(() => DeploymentValidator.ValidateSpec(spec)).Message;

    private static string RoutesRefusal(params DeploymentRoute[] routes) => Refusal(new DeploymentSpec("d", routes));

    [Fact]
    public void A_valid_deployment_passes()
    {
        DeploymentValidator.ValidateSpec(new DeploymentSpec("churn-api.v2_b", [
            DeploymentRoute.Primary("models:/churn@champion", 90), new DeploymentRoute("models:/churn/7", 10, Canary: true),
            DeploymentRoute.Primary("models:/churn/8", 0), DeploymentRoute.Shadow("models:/churn@challenger")], StickyKey.Header("X-User-Id"), "desc"));
        DeploymentValidator.ValidateSpec(new DeploymentSpec("d", [Champion], StickyKey.Field("user id")));
    }

    [Theory]
    [InlineData("", "Missing value for required parameter 'name'")]
    [InlineData("-lead", "may only contain letters, digits")]
    [InlineData("a/b", "may only contain letters, digits")]
    [InlineData("a b", "may only contain letters, digits")]
    [InlineData("..", "may only contain letters, digits")]
    public void Names_are_checked(string name, string expected) =>
        Assert.Contains(expected, Refusal(new DeploymentSpec(name, [Champion])), StringComparison.Ordinal);

    [Fact]
    public void A_name_longer_than_a_registered_models_is_refused() =>
        Assert.Contains("exceeded length limit of 256", Refusal(new DeploymentSpec(new string('a', 257), [Champion])), StringComparison.Ordinal);

    [Fact]
    public void Routes_are_required_and_bounded()
    {
        Assert.Contains("'routes'", RoutesRefusal(), StringComparison.Ordinal);
        var eleven = Enumerable.Range(1, 11).Select(i => i == 1 ? DeploymentRoute.Primary("models:/m/1", 100) : DeploymentRoute.Shadow($"models:/m/{i}")).ToArray();
        Assert.Contains("11 routes, more than the limit of 10", RoutesRefusal(eleven), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("runs:/0123456789abcdef0123456789abcdef/model", "is not a models:/ URI")]
    [InlineData("s3://bucket/model", "is not a models:/ URI")]
    [InlineData("models:/churn/Production", "names a stage or 'latest'")]
    [InlineData("models:/churn/latest", "names a stage or 'latest'")]
    [InlineData("models:/churn", "is malformed")]
    [InlineData("models:/churn@", "is malformed")]
    [InlineData("models:/churn@latest", "reserved")]
    [InlineData("models:/churn/0", "Model version must be an integer")]
    public void Model_uris_are_models_uris_by_version_or_alias(string uri, string expected)
    {
        var message = RoutesRefusal(DeploymentRoute.Primary(uri, 100));
        Assert.Contains(expected, message, StringComparison.Ordinal);
        if (!expected.StartsWith("Model version", StringComparison.Ordinal)) Assert.Contains("routes[0].model_uri", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Primary_weights_are_0_to_100_and_sum_to_100()
    {
        Assert.Contains("sum to 150", RoutesRefusal(DeploymentRoute.Primary("models:/a/1", 100), DeploymentRoute.Primary("models:/b/1", 50)), StringComparison.Ordinal);
        Assert.Contains("sum to 99", RoutesRefusal(DeploymentRoute.Primary("models:/a/1", 99)), StringComparison.Ordinal);
        Assert.Contains("'routes[1].weight': -5 is outside 0..100",
            RoutesRefusal(DeploymentRoute.Primary("models:/a/1", 100), DeploymentRoute.Primary("models:/b/1", -5)), StringComparison.Ordinal);
        Assert.Contains("'routes[0].weight': 101", RoutesRefusal(DeploymentRoute.Primary("models:/a/1", 101)), StringComparison.Ordinal);
        Assert.Contains("'routes[0].weight': a primary route has a weight", RoutesRefusal(new DeploymentRoute("models:/a/1", null)), StringComparison.Ordinal);
    }

    [Fact]
    public void At_least_one_primary_and_shadows_take_no_weight()
    {
        Assert.Contains("at least one primary route", RoutesRefusal(DeploymentRoute.Shadow("models:/a/1")), StringComparison.Ordinal);
        Assert.Contains("'routes[1].weight': a shadow route takes no weight",
            RoutesRefusal(Champion, new DeploymentRoute("models:/a/1", 10, RouteRole.Shadow)), StringComparison.Ordinal);
        Assert.Contains("'routes[1].canary'", RoutesRefusal(Champion, new DeploymentRoute("models:/a/1", null, RouteRole.Shadow, Canary: true)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_uri_appears_once_per_role_and_one_route_at_most_is_the_canary()
    {
        Assert.Contains("'routes[1].model_uri': 'models:/a/1' appears twice",
            RoutesRefusal(DeploymentRoute.Primary("models:/a/1", 50), DeploymentRoute.Primary("models:/a/1", 50)), StringComparison.Ordinal);
        Assert.Contains("2 routes are marked canary", RoutesRefusal(
            DeploymentRoute.Primary("models:/a/1", 50), new DeploymentRoute("models:/b/1", 25, Canary: true), new DeploymentRoute("models:/c/1", 25, Canary: true)),
            StringComparison.Ordinal);
        // The same model as primary and as shadow is allowed (a shadow of the champion with other settings is not, but the URI is).
        DeploymentValidator.ValidateRoutes([Champion, DeploymentRoute.Shadow("models:/churn@champion")]);
    }

    [Theory]
    [InlineData(StickyKeySource.Header, "X User", "'sticky_header': 'X User' is not a header name")]
    [InlineData(StickyKeySource.Header, "X:User", "is not a header name")]
    [InlineData(StickyKeySource.Header, "", "'sticky_header': the name cannot be empty")]
    [InlineData(StickyKeySource.Field, "", "'sticky_field': the name cannot be empty")]
    [InlineData(StickyKeySource.Field, "a\nb", "'sticky_field': the field name contains control characters")]
    public void Sticky_keys_name_a_header_or_a_field(StickyKeySource source, string name, string expected) =>
        Assert.Contains(expected, Refusal(new DeploymentSpec("d", [Champion], new StickyKey(source, name))), StringComparison.Ordinal);

    [Fact]
    public void A_sticky_key_is_a_header_or_a_field_not_both_and_not_too_long()
    {
        Assert.Contains("exceeded length limit of 128", Refusal(new DeploymentSpec("d", [Champion], StickyKey.Header(new string('h', 129)))), StringComparison.Ordinal);
        Assert.Contains("not both", Assert.Throws<InvalidParameterValueException>(() => DeploymentWire.Sticky("X-User", "user")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_update_sets_something_and_does_not_both_set_and_clear_the_sticky_key()
    {
        Assert.Contains("sets nothing", Assert.Throws<InvalidParameterValueException>(() => DeploymentValidator.ValidateUpdate(new DeploymentUpdate())).Message,
            StringComparison.Ordinal);
        Assert.Contains("not both", Assert.Throws<InvalidParameterValueException>(() =>
            DeploymentValidator.ValidateUpdate(new DeploymentUpdate(Sticky: StickyKey.Header("X"), ClearSticky: true))).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(-1)]
    public void A_canary_takes_1_to_99_percent(int percent) =>
        Assert.Contains($"'percent': {percent} is outside 1..99",
            Assert.Throws<InvalidParameterValueException>(() => CanaryPlan.Start([Champion], "models:/churn/2", percent)).Message, StringComparison.Ordinal);

    [Fact]
    public void A_canary_starts_from_one_primary_and_not_with_the_primary_itself()
    {
        Assert.Contains("already the primary route",
            Assert.Throws<InvalidParameterValueException>(() => CanaryPlan.Start([Champion], "models:/churn@champion", 10)).Message, StringComparison.Ordinal);
        Assert.Contains("has 2", Assert.Throws<InvalidStateException>(() =>
            CanaryPlan.Start([DeploymentRoute.Primary("models:/a/1", 50), DeploymentRoute.Primary("models:/b/1", 50)], "models:/c/1", 10)).Message, StringComparison.Ordinal);
        Assert.Contains("No canary is running", Assert.Throws<InvalidStateException>(() => CanaryPlan.Promote([Champion])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wire_roles_other_than_primary_and_shadow_are_refused_naming_the_route() =>
        Assert.Contains("'routes[0].role': 'mirror'", Assert.Throws<InvalidParameterValueException>(() =>
            new List<RouteMessage> { new() { ModelUri = "models:/a/1", Role = "mirror" } }.ToDomain()).Message, StringComparison.Ordinal);
}
