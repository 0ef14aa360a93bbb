using System.Text.Json;

namespace Cairn.Tests.Auth;

/// <summary>MLflow's basic-auth user API and Cairn's token API on a real server.</summary>
public sealed class UserApiTests
{
    private static async Task<(int Status, JsonElement Body)> CallAsync(AuthServer server, HttpMethod method, string path, System.Net.Http.Headers.AuthenticationHeaderValue? auth, object? body = null)
    {
        var (status, json, response) = await server.SendAsync(method, path, auth, body);
        response.Dispose();
        return (status, json);
    }

    private static void AssertError(int expectedStatus, string expectedCode, (int Status, JsonElement Body) answer)
    {
        Assert.True(answer.Status == expectedStatus, $"expected {expectedStatus}, got {answer.Status}: {answer.Body}");
        Assert.Equal(expectedCode, answer.Body.GetProperty("error_code").GetString());
    }

    [Fact]
    public async Task Users_create_get_update_and_delete_as_MLflow_answers_them()
    {
        await using var server = await AuthServer.StartAsync();
        var created = await server.CreateUserAsync("alice", "alice-password");
        var user = created.GetProperty("user");
        Assert.Equal("alice", user.GetProperty("username").GetString());
        Assert.False(user.GetProperty("is_admin").GetBoolean());
        Assert.True(user.GetProperty("id").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Array, user.GetProperty("experiment_permissions").ValueKind);
        Assert.Equal(JsonValueKind.Array, user.GetProperty("registered_model_permissions").ValueKind);
        Assert.False(user.TryGetProperty("password_hash", out _));

        var got = await server.OkAsync(HttpMethod.Get, "api/2.0/mlflow/users/get?username=alice", AuthServer.Admin);
        Assert.Equal(user.GetProperty("id").GetInt64(), got.GetProperty("user").GetProperty("id").GetInt64());
        var self = await server.OkAsync(HttpMethod.Get, "api/2.0/mlflow/users/get?username=alice", AuthServer.Basic("alice", "alice-password"));
        Assert.Equal("alice", self.GetProperty("user").GetProperty("username").GetString());

        Assert.Equal("{}", (await server.OkAsync(HttpMethod.Patch, "api/2.0/mlflow/users/update-admin", AuthServer.Admin, new { username = "alice", is_admin = true })).GetRawText());
        Assert.True((await server.OkAsync(HttpMethod.Get, "api/2.0/mlflow/users/get?username=alice", AuthServer.Admin)).GetProperty("user").GetProperty("is_admin").GetBoolean());

        await server.OkAsync(HttpMethod.Delete, "api/2.0/mlflow/users/delete", AuthServer.Admin, new { username = "alice" });
        AssertError(404, "RESOURCE_DOES_NOT_EXIST", await CallAsync(server, HttpMethod.Get, "api/2.0/mlflow/users/get?username=alice", AuthServer.Admin));
    }

    [Fact]
    public async Task Bad_input_is_400_naming_the_field_and_duplicates_are_RESOURCE_ALREADY_EXISTS()
    {
        await using var server = await AuthServer.StartAsync();
        var shortPassword = await CallAsync(server, HttpMethod.Post, "api/2.0/mlflow/users/create", AuthServer.Admin, new { username = "x", password = "short" });
        AssertError(400, "INVALID_PARAMETER_VALUE", shortPassword);
        Assert.Contains("'password'", shortPassword.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("8", shortPassword.Body.GetProperty("message").GetString(), StringComparison.Ordinal);

        foreach (var bad in new[] { "", "a:b", "tab\tname", " padded", new string('u', 256) })
        {
            var answer = await CallAsync(server, HttpMethod.Post, "api/2.0/mlflow/users/create", AuthServer.Admin, new { username = bad, password = "long-enough" });
            AssertError(400, "INVALID_PARAMETER_VALUE", answer);
            Assert.Contains("'username'", answer.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        AssertError(400, "INVALID_PARAMETER_VALUE", await CallAsync(server, HttpMethod.Post, "api/2.0/mlflow/users/create", AuthServer.Admin, new { username = "nopass" }));

        await server.CreateUserAsync("bob", "bob-password");
        AssertError(400, "RESOURCE_ALREADY_EXISTS",
            await CallAsync(server, HttpMethod.Post, "api/2.0/mlflow/users/create", AuthServer.Admin, new { username = "bob", password = "other-password" }));
        AssertError(400, "INVALID_PARAMETER_VALUE",
            await CallAsync(server, HttpMethod.Patch, "api/2.0/mlflow/users/update-admin", AuthServer.Admin, new { username = "bob", is_admin = "maybe" }));
        AssertError(404, "RESOURCE_DOES_NOT_EXIST",
            await CallAsync(server, HttpMethod.Patch, "api/2.0/mlflow/users/update-password", AuthServer.Admin, new { username = "ghost", password = "long-enough" }));
    }

    [Fact]
    public async Task A_non_admin_is_refused_403_PERMISSION_DENIED_for_others_and_for_admin_actions()
    {
        await using var server = await AuthServer.StartAsync();
        await server.CreateUserAsync("bob", "bob-password");
        await server.CreateUserAsync("carol", "carol-password");
        var bob = AuthServer.Basic("bob", "bob-password");

        AssertError(403, "PERMISSION_DENIED", await CallAsync(server, HttpMethod.Post, "api/2.0/mlflow/users/create", bob, new { username = "eve", password = "eve-password" }));
        AssertError(403, "PERMISSION_DENIED", await CallAsync(server, HttpMethod.Get, "api/2.0/mlflow/users/get?username=carol", bob));
        // Refused before the lookup: a user that does not exist is not told apart.
        AssertError(403, "PERMISSION_DENIED", await CallAsync(server, HttpMethod.Get, "api/2.0/mlflow/users/get?username=ghost", bob));
        AssertError(403, "PERMISSION_DENIED", await CallAsync(server, HttpMethod.Patch, "api/2.0/mlflow/users/update-password", bob, new { username = "carol", password = "taken-over" }));
        AssertError(403, "PERMISSION_DENIED", await CallAsync(server, HttpMethod.Patch, "api/2.0/mlflow/users/update-admin", bob, new { username = "bob", is_admin = true }));
        AssertError(403, "PERMISSION_DENIED", await CallAsync(server, HttpMethod.Delete, "api/2.0/mlflow/users/delete", bob, new { username = "carol" }));
        Assert.Equal(200, await server.StatusAsync(AuthServer.Basic("carol", "carol-password")));
    }

    [Fact]
    public async Task The_last_admin_cannot_be_deleted_or_demoted()
    {
        await using var server = await AuthServer.StartAsync();
        AssertError(400, "INVALID_STATE", await CallAsync(server, HttpMethod.Delete, "api/2.0/mlflow/users/delete", AuthServer.Admin, new { username = "admin" }));
        AssertError(400, "INVALID_STATE", await CallAsync(server, HttpMethod.Patch, "api/2.0/mlflow/users/update-admin", AuthServer.Admin, new { username = "admin", is_admin = false }));
        Assert.Equal(200, await server.StatusAsync(AuthServer.Admin));
    }

    [Fact]
    public async Task Tokens_are_created_once_listed_without_secrets_and_revoked_by_their_owner_or_an_admin()
    {
        await using var server = await AuthServer.StartAsync();
        await server.CreateUserAsync("bob", "bob-password");
        await server.CreateUserAsync("carol", "carol-password");
        var bob = AuthServer.Basic("bob", "bob-password");
        var carol = AuthServer.Basic("carol", "carol-password");

        var (bobId, bobToken) = await server.CreateTokenAsync(bob, "laptop");
        var (carolId, carolToken) = await server.CreateTokenAsync(carol, "ci");
        Assert.NotEqual(bobToken, carolToken);

        var listed = await server.OkAsync(HttpMethod.Get, "api/cairn/v1/tokens", bob);
        var only = Assert.Single(listed.GetProperty("tokens").EnumerateArray());
        Assert.Equal(bobId, only.GetProperty("id").GetString());
        Assert.Equal("laptop", only.GetProperty("name").GetString());
        Assert.DoesNotContain(bobToken, listed.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain(Cairn.Auth.AccessTokens.Hash(bobToken), listed.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("token_hash", listed.GetRawText(), StringComparison.Ordinal);

        // The token authenticates as its owner: it lists bob's tokens.
        var viaToken = await server.OkAsync(HttpMethod.Get, "api/cairn/v1/tokens", AuthServer.Bearer(bobToken));
        Assert.Equal(bobId, Assert.Single(viaToken.GetProperty("tokens").EnumerateArray()).GetProperty("id").GetString());

        // Someone else's token is "not found" to bob; an admin may revoke it.
        AssertError(404, "RESOURCE_DOES_NOT_EXIST", await CallAsync(server, HttpMethod.Delete, $"api/cairn/v1/tokens/{carolId}", bob));
        Assert.Equal(200, await server.StatusAsync(AuthServer.Bearer(carolToken)));
        await server.OkAsync(HttpMethod.Delete, $"api/cairn/v1/tokens/{carolId}", AuthServer.Admin);
        Assert.Equal(401, await server.StatusAsync(AuthServer.Bearer(carolToken)));

        await server.OkAsync(HttpMethod.Delete, $"api/cairn/v1/tokens/{bobId}", bob);
        Assert.Equal(401, await server.StatusAsync(AuthServer.Bearer(bobToken)));
        var after = await server.OkAsync(HttpMethod.Get, "api/cairn/v1/tokens", bob);
        Assert.True(Assert.Single(after.GetProperty("tokens").EnumerateArray()).GetProperty("revoked_time").GetInt64() > 0);

        AssertError(400, "INVALID_PARAMETER_VALUE", await CallAsync(server, HttpMethod.Post, "api/cairn/v1/tokens", bob, new { }));
        AssertError(400, "INVALID_PARAMETER_VALUE", await CallAsync(server, HttpMethod.Post, "api/cairn/v1/tokens", bob, new { name = new string('n', 300) }));
        AssertError(404, "RESOURCE_DOES_NOT_EXIST", await CallAsync(server, HttpMethod.Delete, "api/cairn/v1/tokens/0000000000000000", bob));
    }
}
