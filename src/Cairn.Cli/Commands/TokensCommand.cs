using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Cairn.Client;
using Cairn.Server.Auth;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn tokens create NAME | list | revoke ID</c>: the caller's access tokens on a server with access control on
/// (<c>/api/cairn/v1/tokens</c>), authenticated like every command that talks to a server (MLFLOW_TRACKING_USERNAME and
/// MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN).
/// </summary>
internal static class TokensCommand
{
    private const string TokensPath = "api/cairn/v1/tokens";

    public static Command Create(CliContext app)
    {
        var trackingUri = CliCommon.TrackingUriOption();
        trackingUri.Recursive = true;
        var json = new Option<bool>("--json") { Description = "Print JSON instead of tables.", Recursive = true };

        var create = new Command("create", "Create an access token; it is printed once (use it as MLFLOW_TRACKING_TOKEN).");
        var name = new Argument<string>("NAME") { Description = "What the token is for, e.g. ci-pipeline." };
        create.Arguments.Add(name);
        create.SetHandler(app, async (parse, ctx, ct) =>
        {
            using var transport = Open(ctx, parse, trackingUri);
            var created = await transport.SendJsonAsync(HttpMethod.Post, TokensPath, new TokenRequest { Name = parse.GetValue(name) },
                AuthJson.Default.TokenRequest, AuthJson.Default.CreatedTokenResponse, idempotent: false, user: null, ct);
            if (parse.GetValue(json))
                ctx.Out.WriteLine(JsonSerializer.Serialize(created, AuthJson.Default.CreatedTokenResponse));
            else
            {
                ctx.Out.WriteLine(created.Token);
                ctx.Error.WriteLine($"Created token {created.Id}. It is shown only this once: keep it in a secret store and use it as MLFLOW_TRACKING_TOKEN.");
            }
            return ExitCodes.Ok;
        });

        var list = new Command("list", "List your access tokens (never the tokens themselves).");
        list.SetHandler(app, async (parse, ctx, ct) =>
        {
            using var transport = Open(ctx, parse, trackingUri);
            var tokens = await transport.GetJsonAsync(TokensPath, AuthJson.Default.TokenListResponse, ct);
            if (parse.GetValue(json))
            {
                ctx.Out.WriteLine(JsonSerializer.Serialize(tokens, AuthJson.Default.TokenListResponse));
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("Id", "Name", "Created (UTC)", "Last used (UTC)", "Revoked (UTC)");
            foreach (var t in tokens.Tokens)
                table.AddRow(t.Id, Markup.Escape(t.Name), Time(t.CreationTime), Time(t.LastUsedTime), Time(t.RevokedTime));
            ctx.Console.Write(table);
            return ExitCodes.Ok;
        });

        var revoke = new Command("revoke", "Revoke an access token: it stops working at once.");
        var id = new Argument<string>("ID");
        revoke.Arguments.Add(id);
        revoke.SetHandler(app, async (parse, ctx, ct) =>
        {
            var tokenId = parse.GetValue(id)!;
            if (tokenId.Length == 0 || !tokenId.All(char.IsAsciiLetterOrDigit))
                throw new InvalidParameterValueException($"Invalid token id '{tokenId}': ids are letters and digits (see cairn tokens list).");
            using var transport = Open(ctx, parse, trackingUri);
            var revoked = await transport.SendJsonAsync(HttpMethod.Delete, $"{TokensPath}/{tokenId}", new EmptyMessage(),
                AuthJson.Default.EmptyMessage, AuthJson.Default.TokenResponse, idempotent: true, user: null, ct);
            if (parse.GetValue(json)) ctx.Out.WriteLine(JsonSerializer.Serialize(revoked, AuthJson.Default.TokenResponse));
            else ctx.Out.WriteLine($"Revoked token {tokenId}.");
            return ExitCodes.Ok;
        });

        return new Command("tokens", "Your access tokens on a server with access control on: create, list, revoke.")
        {
            trackingUri, json, create, list, revoke,
        };
    }

    /// <summary>The transport to the server named by --tracking-uri or the environment, with the environment's credentials.</summary>
    private static MlflowHttpTransport Open(CliContext ctx, ParseResult parse, Option<string?> trackingUri)
    {
        var uri = ctx.TrackingUri(parse.GetValue(trackingUri));
        if (!uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw new InvalidParameterValueException(
                $"cairn tokens talks to a server, but the tracking URI is '{uri}': set MLFLOW_TRACKING_URI (or --tracking-uri) to http(s)://host:port.");
        return new MlflowHttpTransport(uri, HttpTrackingStoreOptions.FromEnvironment(ctx.GetEnvironmentVariable));
    }

    private static string Time(long? ms) => ms is { } t
        ? DateTimeOffset.FromUnixTimeMilliseconds(t).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
        : "-";
}
