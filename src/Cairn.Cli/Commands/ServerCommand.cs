using System.CommandLine;
using Cairn.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cairn.Cli.Commands;

internal static class ServerCommand
{
    public static Command Create(CliContext app)
    {
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0: every interface).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "Port to listen on (0 picks a free one).", DefaultValueFactory = _ => 5000 };
        var backend = new Option<string?>("--backend-store-uri") { Description = "Folder, sqlite:///path.db or postgresql://... (default: CAIRN_HOME)." };
        var artifacts = new Option<string?>("--artifacts-destination") { Description = "Folder or s3://bucket/prefix for proxied artifacts (default: CAIRN_HOME/artifacts). S3: MLFLOW_S3_ENDPOINT_URL or CAIRN_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, CAIRN_S3_CHUNK_ENCODING=false for s3rver." };
        var maxRequest = new Option<long>("--max-request-size") { Description = "Largest JSON request body in bytes; larger ones get 413.", DefaultValueFactory = _ => 16 * 1024 * 1024 };
        var maxArtifact = new Option<long?>("--max-artifact-size") { Description = "Largest artifact upload in bytes, counted as it streams in (default 5 GiB); larger ones get 413." };
        var allowedRoots = new Option<string?>("--allowed-artifact-roots") { Description = "Comma list of folders or s3://bucket/prefix roots, besides --artifacts-destination, inside which artifacts/list reads and gc deletes; experiments located elsewhere keep their files." };
        var allowedHosts = new Option<string?>("--allowed-hosts") { Description = "Comma list of further names the Host header may carry (default: localhost, 127.0.0.1, [::1] and --host); *.domain for subdomains, * for any." };
        var corsOrigins = new Option<string?>("--cors-allowed-origins") { Description = "Comma list of origins (https://ui.example.com) whose web pages may call the API; others are refused with 403. * allows any." };
        var logFormat = new Option<string>("--log-format") { Description = "console or json (one JSON object per line).", DefaultValueFactory = _ => "console" };
        logFormat.AcceptOnlyFromAmong("console", "json");
        var auth = new Option<bool>("--auth") { Description = "Require users to log in (HTTP Basic or access tokens); the first start creates an admin (CAIRN_ADMIN_USERNAME, CAIRN_ADMIN_PASSWORD)." };
        var monitoring = new Option<string?>("--monitoring") { Description = "A monitoring YAML file: monitors (deployment, cron schedule, window, reference, drift rules) and alerts (docs/MONITORING.md)." };
        var insecure = new Option<bool>("--insecure") { Description = "Allow a non-loopback --host without --auth (anyone who reaches the port can change everything)." };

        var command = new Command("server", "Run the tracking server (MLflow REST API) on the embedded default or a shared database.")
        {
            host, port, backend, artifacts, maxRequest, logFormat, auth, insecure,
            maxArtifact, allowedRoots, allowedHosts, corsOrigins, monitoring,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            if (parse.GetValue(port) is < 0 or > 65535)
                throw new InvalidParameterValueException("Invalid value for '--port': it must be between 0 and 65535.");
            // Flags given on the command line override appsettings.json and Cairn__* variables; flags left out do not,
            // so their defaults come from the options classes (and CAIRN_HOME for the store locations).
            var settings = new Dictionary<string, string?>();
            void Flag<T>(Option<T> option, string key)
            {
                if (parse.GetResult(option) is { Implicit: false })
                    settings[key] = Convert.ToString(parse.GetValue(option), System.Globalization.CultureInfo.InvariantCulture);
            }
            Flag(host, CairnListenOptions.Section + ":Host");
            Flag(port, CairnListenOptions.Section + ":Port");
            // Relative store locations resolve against -C, like every command's.
            if (parse.GetValue(backend) is { } backendUri) settings[ServerStoreOptions.Section + ":BackendStoreUri"] = ctx.AbsoluteUri(backendUri);
            if (parse.GetValue(artifacts) is { } artifactsUri) settings[ServerStoreOptions.Section + ":ArtifactsDestination"] = ctx.AbsoluteUri(artifactsUri);
            Flag(maxRequest, CairnLimitsOptions.Section + ":MaxRequestBodyBytes");
            Flag(logFormat, CairnLoggingOptions.Section + ":Format");
            Flag(auth, Cairn.Server.Auth.CairnAuthOptions.Section + ":Enabled");
            Flag(insecure, CairnListenOptions.Section + ":Insecure");
            Flag(maxArtifact, CairnLimitsOptions.Section + ":MaxArtifactBytes");
            if (parse.GetValue(allowedRoots) is { } roots)
                settings[ServerStoreOptions.Section + ":AllowedArtifactRoots"] = string.Join(',', Cairn.Artifacts.ArtifactStores.SplitRoots(roots).Select(ctx.AbsoluteUri));
            Flag(allowedHosts, CairnHttpOptions.Section + ":AllowedHosts");
            Flag(corsOrigins, CairnHttpOptions.Section + ":CorsAllowedOrigins");
            if (parse.GetValue(monitoring) is { } monitoringFile) settings[Cairn.Server.Monitoring.MonitoringOptions.Section + ":File"] = ctx.FullPath(monitoringFile);
            // CAIRN_HOME as this command sees it (tests give commands their own environment).
            settings["CAIRN_HOME"] = ctx.CairnHome;

            CairnServer server;
            try
            {
                server = await CairnServer.StartAsync(settings, Cairn.Data.Remotes.S3ConnectionOptions.FromEnvironment(ctx.GetEnvironmentVariable),
                    AddTrainingSide, cancellationToken);
            }
            catch (OptionsValidationException e)
            {
                throw new InvalidParameterValueException(e.Message);
            }
            await using var _ = server;
            var store = server.Services.GetRequiredService<IOptions<ServerStoreOptions>>().Value;
            ctx.Error.WriteLine($"Cairn server listening on {server.Address} (store: {SecretRedaction.StoreUri(store.BackendStoreUri)}, artifacts: {SecretRedaction.StoreUri(store.ArtifactsDestination)})");
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

    /// <summary>
    /// What the <c>cairn</c> command's servers take from the training side, which the server assembly does not reference:
    /// the monitor reads reference files (CSV, Parquet) through the one table reader and draws window reports with its plots.
    /// </summary>
    internal static void AddTrainingSide(IServiceCollection services)
    {
        services.AddSingleton<Cairn.Monitoring.IMonitorReferenceReader, Cairn.ML.Monitoring.TableReferenceReader>();
        services.AddSingleton<Cairn.Monitoring.IMonitorReportRenderer, Cairn.ML.Monitoring.MonitorHtmlReportRenderer>();
    }
}
