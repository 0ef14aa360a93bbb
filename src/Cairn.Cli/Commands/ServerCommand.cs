using System.CommandLine;
using Cairn.Server.Hosting;

namespace Cairn.Cli.Commands;

internal static class ServerCommand
{
    public static Command Create(CliContext app)
    {
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "Port to listen on (0 picks a free one).", DefaultValueFactory = _ => 5000 };
        var backend = new Option<string?>("--backend-store-uri") { Description = "Folder, sqlite:///path.db or postgresql://... (default: CAIRN_HOME)." };
        var artifacts = new Option<string?>("--artifacts-destination") { Description = "Folder or s3://bucket/prefix for proxied artifacts (default: CAIRN_HOME/artifacts). S3: MLFLOW_S3_ENDPOINT_URL or CAIRN_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, CAIRN_S3_CHUNK_ENCODING=false for s3rver." };
        var maxRequest = new Option<long>("--max-request-size") { Description = "Largest JSON request body in bytes; larger ones get 413.", DefaultValueFactory = _ => 16 * 1024 * 1024 };
        var logFormat = new Option<string>("--log-format") { Description = "console or json (one JSON object per line).", DefaultValueFactory = _ => "console" };
        logFormat.AcceptOnlyFromAmong("console", "json");

        var command = new Command("server", "Run the tracking server (MLflow REST API) on the embedded default or a shared database.")
        {
            host, port, backend, artifacts, maxRequest, logFormat,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            if (parse.GetValue(port) is < 0 or > 65535)
                throw new InvalidParameterValueException("Invalid value for '--port': it must be between 0 and 65535.");
            var options = new CairnServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                BackendStoreUri = ctx.AbsoluteUri(parse.GetValue(backend) ?? ctx.CairnHome),
                ArtifactsDestination = ctx.AbsoluteUri(parse.GetValue(artifacts) ?? ctx.CairnHomeArtifacts),
                S3 = Cairn.Data.Remotes.S3ConnectionOptions.FromEnvironment(ctx.GetEnvironmentVariable),
                MaxRequestBodyBytes = parse.GetValue(maxRequest),
                LogFormat = parse.GetValue(logFormat)!,
            };
            await using var server = await CairnServer.StartAsync(options, cancellationToken);
            ctx.Error.WriteLine($"Cairn server listening on {server.Address} (store: {Redact(options.BackendStoreUri)}, artifacts: {options.ArtifactsDestination})");
            try
            {
                // SIGINT/SIGTERM end this wait: CliRunner cancels the token (and the host's console lifetime stops the app).
                await server.WaitForShutdownAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C / SIGTERM: stop cleanly, flushing the store.
            }
            return 0;
        });
        return command;
    }

    /// <summary>Hides a password in a postgresql:// URI before it is printed.</summary>
    internal static string Redact(string uri)
    {
        if (!uri.Contains("://", StringComparison.Ordinal) || !Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.UserInfo.Contains(':'))
            return uri;
        return uri.Replace(parsed.UserInfo, parsed.UserInfo.Split(':')[0] + ":***", StringComparison.Ordinal);
    }
}
