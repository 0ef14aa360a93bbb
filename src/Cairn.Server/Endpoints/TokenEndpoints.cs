using Cairn.Auth;
using Cairn.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static Cairn.Server.Endpoints.MlflowRequest;

namespace Cairn.Server.Endpoints;

/// <summary>
/// Access tokens under /api/cairn/v1/tokens: a user creates them (the secret is answered once, only its hash is kept),
/// lists their own (never a secret) and revokes them; an admin may revoke anyone's. A revocation holds from the next request.
/// </summary>
internal static class TokenEndpoints
{
    public static void MapTokenEndpoints(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(UserEndpoints.RequireAuthOn);

        group.MapPost("", async (HttpRequest request, IUserStore store) =>
        {
            var body = await ReadAsync(request, AuthJson.Default.TokenRequest);
            var secret = AccessTokens.NewSecret();
            var token = await store.CreateTokenAsync(request.HttpContext.RequireUserId(), Required(body.Name, "name"), AccessTokens.Hash(secret),
                request.HttpContext.RequestAborted);
            return Results.Json(new CreatedTokenResponse { Id = token.Id, Token = secret }, AuthJson.Default.CreatedTokenResponse);
        })
        .WithName("CairnCreateToken").WithSummary("Creates an access token for the caller (body: name); the answer is the only time the token is shown.");

        group.MapGet("", async (HttpRequest request, IUserStore store) =>
        {
            var tokens = await store.ListTokensAsync(request.HttpContext.RequireUserId(), request.HttpContext.RequestAborted);
            return Results.Json(new TokenListResponse { Tokens = tokens.Select(TokenMessage.From).ToList() }, AuthJson.Default.TokenListResponse);
        })
        .WithName("CairnListTokens").WithSummary("The caller's access tokens (never the tokens themselves).");

        group.MapDelete("{id}", async (string id, HttpRequest request, IUserStore store, CredentialCache cache) =>
        {
            var caller = request.HttpContext.RequireUserId();
            var notFound = new ResourceDoesNotExistException($"Access token with id={id} not found");
            if (id.Length > 64) throw notFound;
            var token = await store.GetTokenAsync(id, request.HttpContext.RequestAborted);
            // Someone else's token is "not found" to a non-admin: its existence is not theirs to learn.
            if (token.UserId != caller && !request.HttpContext.User.IsAdmin()) throw notFound;
            try
            {
                token = await store.RevokeTokenAsync(id, request.HttpContext.RequestAborted);
            }
            finally
            {
                cache.Invalidate();
            }
            return Results.Json(new TokenResponse { Token = TokenMessage.From(token) }, AuthJson.Default.TokenResponse);
        })
        .WithName("CairnRevokeToken").WithSummary("Revokes an access token of the caller's (an admin: anyone's).");
    }
}
