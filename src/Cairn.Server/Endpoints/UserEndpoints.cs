using System.Text.Json;
using Cairn.Auth;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// MLflow's basic-auth user API (mlflow/server/auth, MLflow 2.11): users/create, users/get, users/update-password,
/// users/update-admin and users/delete, with the same paths, bodies and rules: admins may do everything; a user may read
/// themself and change their own password. Every change to a user empties the credential cache, so it holds from the next request.
/// </summary>
internal static class UserEndpoints
{
    public static void MapUserEndpoints(this IEndpointRouteBuilder api)
    {
        var users = api.MapGroup("users").AddEndpointFilter(RequireAuthOn).WithoutCairnResource();

        users.MapPost("create", async (HttpRequest request, IUserStore store, CairnPasswords passwords) =>
        {
            RequireAdmin(request.HttpContext, "create users");
            var body = await ReadAsync(request, AuthJson.Default.UserRequest);
            var username = Required(body.Username, "username");
            UserValidator.ValidateUsername(username);
            var user = await store.CreateUserAsync(username, passwords.Hash(Required(body.Password, "password")), cancellationToken: request.HttpContext.RequestAborted);
            return Results.Json(new UserResponse { User = UserMessage.From(user) }, AuthJson.Default.UserResponse);
        });

        users.MapGet("get", async (HttpRequest request, IUserStore store, ServerStores stores) =>
        {
            var username = Required(Query(request, "username"), "username");
            RequireSelfOrAdmin(request.HttpContext, username, "read other users");
            var user = await store.GetUserAsync(username, request.HttpContext.RequestAborted);
            var message = UserMessage.From(user);
            (message.ExperimentPermissions, message.RegisteredModelPermissions, message.DeploymentPermissions) =
                await PermissionEndpoints.GrantsOfAsync(stores, user.Id, request.HttpContext.RequestAborted);
            return Results.Json(new UserResponse { User = message }, AuthJson.Default.UserResponse);
        });

        users.MapPatch("update-password", async (HttpRequest request, IUserStore store, CairnPasswords passwords, CredentialCache cache) =>
        {
            var body = await BodyAsync(request);
            var username = Required(body.Username ?? Query(request, "username"), "username");
            RequireSelfOrAdmin(request.HttpContext, username, "change other users' passwords");
            var hash = passwords.Hash(Required(body.Password, "password"));
            await ChangeAsync(cache, () => store.UpdatePasswordAsync(username, hash, request.HttpContext.RequestAborted));
            return Empty();
        });

        users.MapPatch("update-admin", async (HttpRequest request, IUserStore store, CredentialCache cache) =>
        {
            RequireAdmin(request.HttpContext, "change who is an admin");
            var body = await BodyAsync(request);
            var username = Required(body.Username ?? Query(request, "username"), "username");
            var isAdmin = ParseBool(body.IsAdmin, Query(request, "is_admin"));
            if (!isAdmin) await RequireAnotherAdminAsync(store, username, request.HttpContext.RequestAborted);
            await ChangeAsync(cache, () => store.UpdateAdminAsync(username, isAdmin, request.HttpContext.RequestAborted));
            return Empty();
        });

        users.MapDelete("delete", async (HttpRequest request, IUserStore store, CredentialCache cache) =>
        {
            RequireAdmin(request.HttpContext, "delete users");
            var body = await BodyAsync(request);
            var username = Required(body.Username ?? Query(request, "username"), "username");
            await RequireAnotherAdminAsync(store, username, request.HttpContext.RequestAborted);
            await ChangeAsync(cache, () => store.DeleteUserAsync(username, request.HttpContext.RequestAborted));
            return Empty();
        });
    }

    /// <summary>With access control off there are no users: these endpoints say so, as MLflow without its auth app has none.</summary>
    internal static ValueTask<object?> RequireAuthOn(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var options = context.HttpContext.RequestServices.GetService(typeof(IOptions<CairnAuthOptions>)) as IOptions<CairnAuthOptions>;
        if (options?.Value.Enabled != true)
            throw new CairnException(ErrorCode.ENDPOINT_NOT_FOUND,
                $"No endpoint {context.HttpContext.Request.Method} {context.HttpContext.Request.Path}: access control is off on this server (start it with --auth).");
        return next(context);
    }

    private static Task<UserRequest> BodyAsync(HttpRequest request) => ReadAsync(request, AuthJson.Default.UserRequest);

    private static IResult Empty() => Results.Json(new EmptyMessage(), AuthJson.Default.EmptyMessage);

    /// <summary>Runs a change, then forgets every cached credential (also when the change failed half-way through).</summary>
    private static async Task ChangeAsync(CredentialCache cache, Func<Task> change)
    {
        try
        {
            await change();
        }
        finally
        {
            cache.Invalidate();
        }
    }

    private static void RequireAdmin(HttpContext context, string what)
    {
        if (!context.User.IsAdmin())
            throw new CairnException(ErrorCode.PERMISSION_DENIED, $"Permission denied: only admins may {what}.");
    }

    private static void RequireSelfOrAdmin(HttpContext context, string username, string what)
    {
        if (!context.User.IsAdmin() && !string.Equals(context.User.UserName(), username, StringComparison.Ordinal))
            throw new CairnException(ErrorCode.PERMISSION_DENIED, $"Permission denied: only admins may {what}.");
    }

    /// <summary>Removing or demoting the last admin would leave nobody able to manage users.</summary>
    private static async Task RequireAnotherAdminAsync(IUserStore store, string username, CancellationToken cancellationToken)
    {
        var admins = (await store.ListUsersAsync(cancellationToken)).Where(u => u.IsAdmin).ToList();
        if (admins.Count == 1 && admins[0].Username == username)
            throw new InvalidStateException($"User '{username}' is the last admin; make another user an admin first.");
    }

    private static bool ParseBool(JsonElement? value, string? query)
    {
        if (value is { ValueKind: JsonValueKind.True }) return true;
        if (value is { ValueKind: JsonValueKind.False }) return false;
        var text = value is { ValueKind: JsonValueKind.String } s ? s.GetString() : value is null || value.Value.ValueKind == JsonValueKind.Null ? query : null;
        if (text is null && (value is null || value.Value.ValueKind == JsonValueKind.Null))
            throw new InvalidParameterValueException("Missing value for required parameter 'is_admin'.");
        return text?.ToLowerInvariant() switch
        {
            "true" => true,
            "false" => false,
            _ => throw new InvalidParameterValueException($"Invalid value {(text ?? value!.Value.GetRawText())} for parameter 'is_admin' supplied: expected true or false."),
        };
    }
}
