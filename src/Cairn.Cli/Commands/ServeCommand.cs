using System.CommandLine;
using System.Globalization;
using Cairn.Server.Hosting;
using Cairn.Server.Scoring;
using Cairn.Serving;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn serve MODEL_URI</c>: serves one model over HTTP (MLflow's <c>/invocations</c> and the Open Inference Protocol v2).
/// The model is found through the one resolver (<c>CairnClient.LocateModelAsync</c>) on the tracking store every command
/// uses; the server is ready (<c>/ping</c>, <c>/health/ready</c>) once the model has loaded.
/// </summary>
internal static class ServeCommand
{
    public const string ApiKeyVariable = "CAIRN_SERVE_API_KEY";

    public static Command Create(CliContext app)
    {
        var model = new Argument<string?>("MODEL_URI") { Description = "models:/NAME@ALIAS, models:/NAME/VERSION, runs:/<run_id>/model or a model folder.", Arity = ArgumentArity.ZeroOrOne };
        var dir = new Argument<string?>("DIR") { Description = "With --export bundle: the folder to write (created; must be empty unless --force).", Arity = ArgumentArity.ZeroOrOne };
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0: every interface; needs --api-key or --insecure).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "Port to listen on (0 picks a free one).", DefaultValueFactory = _ => 5001 };
        var trackingUri = TrackingUriOption();
        var flavor = new Option<string?>("--flavor") { Description = "mlnet or onnx, for a package holding both (default: mlnet, then onnx)." };
        flavor.AcceptOnlyFromAmong("mlnet", "onnx");
        var apiKey = new Option<string?>("--api-key") { Description = $"Require 'Authorization: Bearer <key>' on scoring requests (health probes excepted); default: {ApiKeyVariable}." };
        var maxRequest = new Option<long>("--max-request-size") { Description = "Largest scoring request body in bytes; larger ones get 413.", DefaultValueFactory = _ => ScoringOptions.DefaultMaxRequestBodyBytes };
        var timeout = new Option<double>("--timeout") { Description = "Seconds allowed to read and score one request; slower ones get 503.", DefaultValueFactory = _ => 60 };
        var name = new Option<string?>("--name") { Description = "The model's name in answers and metrics, for a folder or runs:/ URI (default: the folder's name)." };
        var insecure = new Option<bool>("--insecure") { Description = "Allow a non-loopback --host without --api-key (anyone who reaches the port can use the model)." };
        var logPredictions = new Option<bool>("--log-predictions") { Description = "Append every scored row to the prediction log in the tracking database (embedded or PostgreSQL), read by feedback and monitoring." };
        var sampleRate = new Option<double>("--log-sample-rate") { Description = "Share of requests logged with --log-predictions, 0 to 1 (by request id, so a request is logged whole or not at all).", DefaultValueFactory = _ => 1.0 };
        var logFormat = new Option<string>("--log-format") { Description = "console or json (one JSON object per line).", DefaultValueFactory = _ => "console" };
        logFormat.AcceptOnlyFromAmong("console", "json");
        var microBatchMax = new Option<int>("--micro-batch-max") { Description = "Score concurrent requests of fewer rows together, in batches of up to this many rows (0: off)." };
        var microBatchWait = new Option<int>("--micro-batch-wait-us") { Description = "Microseconds a micro-batch waits for more rows (0: it takes what queued while the previous batch was scored)." };
        var microBatchQueue = new Option<int>("--micro-batch-queue") { Description = "Most requests waiting for a micro-batch; more get 503.", DefaultValueFactory = _ => 4096 };
        var validate = new Option<string?>("--validate") { Description = "An expectation suite (YAML) every /invocations request's input must meet (docs/VALIDATION.md)." };
        var onInvalid = new Option<string>("--on-invalid") { Description = "With --validate: reject (400 naming the expectation and column) or flag (score it, count it in cairn_scoring_invalid_inputs, log it).", DefaultValueFactory = _ => "reject" };
        var export = new Option<string?>("--export") { Description = "Write instead of serving: grafana (a dashboard of /metrics), bundle (MODEL_URI DIR: model, server, OpenAPI, run.sh) or k8s (Deployment and Service YAML)." };
        export.AcceptOnlyFromAmong(ServeExport.Grafana, ServeExport.Bundle, ServeExport.Kubernetes);
        var output = new Option<string?>("--output", "-o") { Description = "With --export grafana or k8s: the file to write (default: stdout)." };
        var image = new Option<string?>("--image") { Description = $"With --export k8s: the container image (default {Cairn.Server.Scoring.Export.KubernetesOptions.DefaultImage}, what 'docker build -t cairn .' makes)." };
        var replicas = new Option<int>("--replicas") { Description = "With --export k8s: pods to run.", DefaultValueFactory = _ => 1 };
        var force = new Option<bool>("--force") { Description = "With --export bundle: write into a folder that is not empty (the bundle's own entries are replaced)." };

        var command = new Command("serve", "Serve a model over HTTP: MLflow's /invocations and the Open Inference Protocol v2 (/v2/models/NAME/infer).")
        {
            model, dir, host, port, trackingUri, flavor, apiKey, maxRequest, timeout, name, insecure, logPredictions, sampleRate, logFormat,
            export, output, image, replicas, force, microBatchMax, microBatchWait, microBatchQueue, validate, onInvalid,
        };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            if (parse.GetValue(export) is { } kind)
            {
                return await ServeExport.RunAsync(ctx, kind, new ServeExport.Request(parse.GetValue(model), parse.GetValue(dir), parse.GetValue(output),
                    parse.GetValue(image), parse.GetValue(replicas), parse.GetValue(port), parse.GetValue(name), parse.GetValue(flavor), parse.GetValue(trackingUri),
                    parse.GetValue(force)), (c, t) => OpenAsync(ctx, parse, trackingUri, t), cancellationToken);
            }
            if (string.IsNullOrEmpty(parse.GetValue(model)))
                throw new InvalidParameterValueException("Missing value for 'MODEL_URI': give the model to serve (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/<run_id>/model or a folder).");
            if (parse.GetValue(dir) is { } extra)
                throw new InvalidParameterValueException($"Unexpected argument '{extra}': cairn serve takes one MODEL_URI (a second argument is DIR, for --export bundle).");
            foreach (var exportOnly in new Option[] { output, image, replicas, force })
                if (parse.GetResult(exportOnly) is { Implicit: false })
                    throw new InvalidParameterValueException($"'{exportOnly.Name}' goes with --export; without it cairn serve serves the model.");
            if (parse.GetValue(port) is < 0 or > 65535)
                throw new InvalidParameterValueException("Invalid value for '--port': it must be between 0 and 65535.");
            if (parse.GetValue(maxRequest) <= 0)
                throw new InvalidParameterValueException("Invalid value for '--max-request-size': it must be a positive number of bytes.");
            if (parse.GetValue(timeout) is not > 0 || !double.IsFinite(parse.GetValue(timeout)))
                throw new InvalidParameterValueException("Invalid value for '--timeout': it must be a positive number of seconds.");
            var key = parse.GetValue(apiKey) ?? ctx.GetEnvironmentVariable(ApiKeyVariable);
            if (key is { Length: < 16 })
                throw new InvalidParameterValueException($"Invalid value for '--api-key' ({ApiKeyVariable}): it must be at least 16 characters.");

            var settings = new Dictionary<string, string?>
            {
                [CairnListenOptions.Section + ":Host"] = parse.GetValue(host),
                [CairnListenOptions.Section + ":Port"] = parse.GetValue(port).ToString(CultureInfo.InvariantCulture),
                [CairnListenOptions.Section + ":Insecure"] = parse.GetValue(insecure) ? "true" : "false",
                [CairnLoggingOptions.Section + ":Format"] = parse.GetValue(logFormat),
                [ScoringOptions.Section + ":MaxRequestBodyBytes"] = parse.GetValue(maxRequest).ToString(CultureInfo.InvariantCulture),
                [ScoringOptions.Section + ":RequestTimeoutSeconds"] = parse.GetValue(timeout).ToString(CultureInfo.InvariantCulture),
                // Checked with the other scoring options when the server starts; an error names the flag.
                [ScoringOptions.Section + ":MicroBatchMaxRows"] = parse.GetValue(microBatchMax).ToString(CultureInfo.InvariantCulture),
                [ScoringOptions.Section + ":MicroBatchWaitMicroseconds"] = parse.GetValue(microBatchWait).ToString(CultureInfo.InvariantCulture),
                [ScoringOptions.Section + ":MicroBatchQueueLimit"] = parse.GetValue(microBatchQueue).ToString(CultureInfo.InvariantCulture),
            };
            if (!string.IsNullOrEmpty(key)) settings[ScoringOptions.Section + ":ApiKey"] = key;
            if (parse.GetValue(validate) is { } suitePath)
            {
                // The suite is read here first so a bad one is one error (exit 2) before the server starts.
                var fullSuitePath = ctx.FullPath(suitePath);
                InputValidation.LoadSuite(fullSuitePath);
                settings[ScoringOptions.Section + ":ValidationSuite"] = fullSuitePath;
                settings[ScoringOptions.Section + ":OnInvalid"] = InputValidation.ParseAction(parse.GetValue(onInvalid)) ? "reject" : "flag";
            }
            else if (parse.GetResult(onInvalid) is { Implicit: false })
                throw new InvalidParameterValueException("'--on-invalid' goes with --validate SUITE.");
            if (parse.GetValue(sampleRate) is not (>= 0 and <= 1))
                throw new InvalidParameterValueException("Invalid value for '--log-sample-rate': it must be between 0 and 1.");

            // The prediction log writes to the tracking database; it outlives the server so requests in flight are logged.
            using var logStores = parse.GetValue(logPredictions) ? await OpenAsync(ctx, parse, trackingUri, cancellationToken) : null;
            await using var log = logStores is null ? null
                : PredictionLog.Open(logStores.Stores, new PredictionLogOptions { SampleRate = parse.GetValue(sampleRate) });
            ScoringServer server;
            try
            {
                server = await ScoringServer.StartAsync(settings, services => { if (log is not null) services.AddSingleton<IPredictionLog>(log); }, cancellationToken);
            }
            catch (OptionsValidationException e)
            {
                throw new InvalidParameterValueException(e.Message);
            }
            await using var _ = server;
            var scratch = Directory.CreateTempSubdirectory("cairn-serve-");
            try
            {
                var uri = parse.GetValue(model)!;
                var served = await LoadAsync(ctx, parse, trackingUri, uri, scratch.FullName, parse.GetValue(name), parse.GetValue(flavor), cancellationToken);
                server.Serve(served);
                ctx.Error.WriteLine($"Serving {uri} ({served.Name}, version {served.VersionLabel}, {served.Predictor.Flavor}) on {server.Address} " +
                                    $"(POST /invocations, /v2/models/{served.Name}/infer){(string.IsNullOrEmpty(key) ? "" : "; API key required")}" +
                                    (log is null ? "" : $"; logging predictions under '{served.Name}'"));
                try
                {
                    await server.WaitForShutdownAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl-C / SIGTERM: requests in flight finish as the host stops.
                }
            }
            finally
            {
                try { scratch.Delete(recursive: true); } catch (IOException) { /* a leftover in the temp folder is harmless */ }
            }
            return 0;
        });
        return command;
    }

    /// <summary>A folder is loaded in place; a models:/ or runs:/ URI is fetched through the tracking store into <paramref name="scratch"/>.</summary>
    private static async Task<ServedModel> LoadAsync(CliContext ctx, ParseResult parse, Option<string?> trackingUri, string uri, string scratch,
        string? name, string? flavor, CancellationToken cancellationToken)
    {
        if (!uri.Contains(":/", StringComparison.Ordinal))
        {
            var folder = ctx.FullPath(uri);
            if (!Directory.Exists(folder)) throw new ResourceDoesNotExistException($"Invalid value for 'MODEL_URI': '{uri}' is neither a model folder nor a models:/ or runs:/ URI.");
            return ServedModel.Load(folder, name ?? new DirectoryInfo(folder).Name, null, uri, flavor);
        }
        using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
        var location = await client.LocateModelAsync(uri, scratch, "MODEL_URI", cancellationToken);
        return ServedModel.Load(location.Folder, location.Version?.Name ?? name ?? new DirectoryInfo(location.Folder).Name, location.Version?.Version, uri, flavor);
    }
}
