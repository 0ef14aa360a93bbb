using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Cairn.Cli;
using Cairn.ML.Models;
using YamlDotNet.RepresentationModel;

namespace Cairn.Tests;

/// <summary><c>cairn serve --export grafana|bundle|k8s</c>: the files written, parsed back, and the bundle run as a real process.</summary>
[Collection(SignalTests.Collection)]
public sealed class ServeExportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Export_grafana_writes_the_dashboard_to_stdout_or_to_a_file_without_a_model()
    {
        using var cli = new CliHarness();

        var stdout = (await cli.RunAsync("serve", "--export", "grafana")).Ok();
        var written = (await cli.RunAsync("serve", "--export", "grafana", "-o", "dashboard.json")).Ok();

        Assert.Equal("", stdout.Err);
        Assert.Equal("", written.Out);
        Assert.Contains("dashboard.json", written.Err, StringComparison.Ordinal);
        Assert.Equal(stdout.Out, File.ReadAllText(cli.Home.Combine("dashboard.json")));
        using var json = JsonDocument.Parse(stdout.Out);
        var expressions = json.RootElement.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()!)).ToList();
        Assert.Contains(expressions, e => e.Contains("histogram_quantile(0.99", StringComparison.Ordinal) && e.Contains("cairn_scoring_request_duration_seconds_bucket", StringComparison.Ordinal));
        Assert.Contains(expressions, e => e.Contains("cairn_scoring_shadow_failures_total", StringComparison.Ordinal));
        Assert.Contains(expressions, e => e.Contains("cairn_prediction_log_dropped_total", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Export_k8s_writes_a_deployment_and_a_service_whose_selector_ports_probes_and_annotations_agree()
    {
        using var cli = new CliHarness();

        (await cli.RunAsync("serve", "models:/Churn Model@champion", "--export", "k8s", "--port", "8080", "--replicas", "3",
            "--image", "registry.example.com/cairn:1.2", "--tracking-uri", "http://cairn.mlops:5000", "-o", "serve.yaml")).Ok();

        var stream = new YamlStream();
        using (var reader = new StreamReader(cli.Home.Combine("serve.yaml"))) stream.Load(reader);
        Assert.Equal(2, stream.Documents.Count);
        var deployment = (YamlMappingNode)stream.Documents[0].RootNode;
        var service = (YamlMappingNode)stream.Documents[1].RootNode;
        Assert.Equal(("apps/v1", "Deployment"), (Text(deployment, "apiVersion"), Text(deployment, "kind")));
        Assert.Equal(("v1", "Service"), (Text(service, "apiVersion"), Text(service, "kind")));
        Assert.Equal("cairn-churn-model", Text(deployment, "metadata", "name"));
        Assert.Equal("cairn-churn-model", Text(service, "metadata", "name"));
        Assert.Equal("3", Text(deployment, "spec", "replicas"));

        // The selector picks the template's pods, and so does the Service's.
        var templateLabels = Map(deployment, "spec", "template", "metadata", "labels");
        foreach (var selector in new[] { Map(deployment, "spec", "selector", "matchLabels"), Map(service, "spec", "selector") })
        {
            Assert.NotEmpty(selector.Children);
            foreach (var (key, value) in selector.Children)
                Assert.Equal(((YamlScalarNode)value).Value, ((YamlScalarNode)templateLabels[key]).Value);
        }

        var container = (YamlMappingNode)((YamlSequenceNode)Node(deployment, "spec", "template", "spec", "containers")).Children.Single();
        Assert.Equal("registry.example.com/cairn:1.2", Text(container, "image"));
        Assert.Equal(["dotnet", "cairn.dll"], Strings(container, "command"));
        var args = Strings(container, "args");
        Assert.Equal(["serve", "models:/Churn Model@champion", "--host", "0.0.0.0", "--port", "8080"], args.Take(6));
        var port = (YamlMappingNode)((YamlSequenceNode)Node(container, "ports")).Children.Single();
        Assert.Equal(("http", "8080"), (Text(port, "name"), Text(port, "containerPort")));
        Assert.Equal(("/health/ready", "8080"), (Text(container, "readinessProbe", "httpGet", "path"), Text(container, "readinessProbe", "httpGet", "port")));
        Assert.Equal(("/health/live", "8080"), (Text(container, "livenessProbe", "httpGet", "path"), Text(container, "livenessProbe", "httpGet", "port")));
        Assert.NotNull(Text(container, "resources", "requests", "cpu"));
        Assert.NotNull(Text(container, "resources", "limits", "memory"));

        var env = ((YamlSequenceNode)Node(container, "env")).Children.Cast<YamlMappingNode>().ToDictionary(e => Text(e, "name")!);
        Assert.Equal(("cairn-churn-model-secrets", "api-key", "false"), (Text(env["CAIRN_SERVE_API_KEY"], "valueFrom", "secretKeyRef", "name"),
            Text(env["CAIRN_SERVE_API_KEY"], "valueFrom", "secretKeyRef", "key"), Text(env["CAIRN_SERVE_API_KEY"], "valueFrom", "secretKeyRef", "optional")));
        Assert.Equal("http://cairn.mlops:5000", Text(env["CAIRN_TRACKING_URI"], "value"));

        var annotations = Map(deployment, "spec", "template", "metadata", "annotations");
        Assert.Equal("true", ((YamlScalarNode)annotations["prometheus.io/scrape"]).Value);
        Assert.Equal("8080", ((YamlScalarNode)annotations["prometheus.io/port"]).Value);
        Assert.Equal("/metrics", ((YamlScalarNode)annotations["prometheus.io/path"]).Value);
        // Quoted where YAML would otherwise read a boolean or a number: Kubernetes wants strings there.
        var text = File.ReadAllText(cli.Home.Combine("serve.yaml"));
        Assert.Contains("prometheus.io/scrape: \"true\"", text, StringComparison.Ordinal);

        var servicePort = (YamlMappingNode)((YamlSequenceNode)Node(service, "spec", "ports")).Children.Single();
        Assert.Equal(("8080", "http"), (Text(servicePort, "port"), Text(servicePort, "targetPort")));

        // Without a model or flags: stdout, defaults, and a note on stderr about the placeholder model.
        var defaults = (await cli.RunAsync("serve", "--export", "k8s")).Ok();
        var fromStdout = new YamlStream();
        fromStdout.Load(new StringReader(defaults.Out));
        var defaultContainer = (YamlMappingNode)((YamlSequenceNode)Node((YamlMappingNode)fromStdout.Documents[0].RootNode, "spec", "template", "spec", "containers")).Children.Single();
        Assert.Equal("cairn:latest", Text(defaultContainer, "image"));
        Assert.Equal("5001", Text((YamlMappingNode)((YamlSequenceNode)Node(defaultContainer, "ports")).Children.Single(), "containerPort"));
        Assert.Contains("models:/MODEL@champion", defaults.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_export_arguments_get_one_error_line_and_a_non_zero_exit()
    {
        using var cli = new CliHarness();
        Directory.CreateDirectory(cli.Home.Combine("full"));
        File.WriteAllText(cli.Home.Combine("full", "keep.txt"), "mine");
        Directory.CreateDirectory(cli.Home.Combine("m"));

        Assert.Contains("'nope'", (await cli.RunAsync("serve", "--export", "nope")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("MODEL_URI and DIR", (await cli.RunAsync("serve", "--export", "bundle")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("MODEL_URI and DIR", (await cli.RunAsync("serve", "models:/m/1", "--export", "bundle")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("--replicas", (await cli.RunAsync("serve", "--export", "k8s", "--replicas", "0")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("between 1 and 65535", (await cli.RunAsync("serve", "--export", "k8s", "--port", "0")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("between 1 and 65535", (await cli.RunAsync("serve", "--export", "k8s", "--port", "70000")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("--image", (await cli.RunAsync("serve", "--export", "k8s", "--image", "bad image")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        var credentials = (await cli.RunAsync("serve", "--export", "k8s", "--tracking-uri", "http://admin:hunter2hunter2@cairn:5000")).FailedWith(ExitCodes.InvalidInput);
        Assert.Contains("--tracking-uri", credentials, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", credentials, StringComparison.Ordinal);
        Assert.Contains("takes no MODEL_URI", (await cli.RunAsync("serve", "models:/m/1", "--export", "grafana")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("only --export bundle takes a DIR", (await cli.RunAsync("serve", "models:/m/1", "out", "--export", "k8s")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("'--output'", (await cli.RunAsync("serve", "m", "out", "--export", "bundle", "-o", "x")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("not empty", (await cli.RunAsync("serve", "m", "full", "--export", "bundle")).FailedWith(ExitCodes.InvalidState), StringComparison.Ordinal);
        Assert.Equal("mine", File.ReadAllText(cli.Home.Combine("full", "keep.txt")));
        Directory.CreateSymbolicLink(cli.Home.Combine("link"), cli.Home.Combine("full"));
        Assert.Contains("symbolic link", (await cli.RunAsync("serve", "m", "link", "--export", "bundle", "--force")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(cli.Home.Combine("full")).Select(Path.GetFileName));
        // A model that does not resolve leaves no folder behind.
        Assert.Contains("nope", (await cli.RunAsync("serve", "models:/nope/1", "--export", "bundle", "fresh")).FailedWith(ExitCodes.NotFound), StringComparison.Ordinal);
        Assert.False(Directory.Exists(cli.Home.Combine("fresh")));
        Assert.Contains("is a folder", (await cli.RunAsync("serve", "--export", "grafana", "-o", "full")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("'--force'", (await cli.RunAsync("serve", "--export", "k8s", "--force")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        // Serving still needs its model, and export-only flags alone are refused rather than ignored.
        Assert.Contains("MODEL_URI", (await cli.RunAsync("serve")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("--export", (await cli.RunAsync("serve", "m", "--image", "cairn:1")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
        Assert.Contains("'--replicas' goes with --export", (await cli.RunAsync("serve", "m", "--replicas", "2")).FailedWith(ExitCodes.InvalidInput), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_bundle_writes_model_server_openapi_and_run_sh_and_the_bundled_server_scores()
    {
        using var cli = new CliHarness();
        await cli.TrainTinyChurnAsync("bundle", seed: 5);

        var result = (await cli.RunAsync("serve", "models:/churn/1", "--export", "bundle", "out/bundle")).Ok();
        Assert.Contains("run.sh", result.Err, StringComparison.Ordinal);
        var bundle = cli.Home.Combine("out", "bundle");
        Assert.Equal(["README.md", "model", "openapi.json", "run.sh", "server"],
            Directory.EnumerateFileSystemEntries(bundle).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(bundle, "model", "MLmodel")));
        Assert.True(File.Exists(Path.Combine(bundle, "server", "cairn.dll")));
        Assert.True(File.Exists(Path.Combine(bundle, "server", "cairn.runtimeconfig.json")));
        Assert.True(OperatingSystem.IsWindows() || File.GetUnixFileMode(Path.Combine(bundle, "run.sh")).HasFlag(UnixFileMode.UserExecute));

        // openapi.json: the signature's columns, in order and with their types, in both dataframe shapes and in the v2 request.
        var signature = ModelManifest.Load(Path.Combine(bundle, "model")).Inputs;
        Assert.Equal(["x1", "x2", "x3"], signature.Select(s => s.Name));
        using var openApi = JsonDocument.Parse(File.ReadAllText(Path.Combine(bundle, "openapi.json")));
        var root = openApi.RootElement;
        Assert.StartsWith("3.", root.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var schemas = root.GetProperty("components").GetProperty("schemas");
        var record = schemas.GetProperty("Record").GetProperty("properties");
        Assert.Equal(signature.Select(s => s.Name), record.EnumerateObject().Select(p => p.Name));
        foreach (var column in signature)
            Assert.Equal(FormatOf(column.Type), record.GetProperty(column.Name!).GetProperty("format").GetString());
        var split = schemas.GetProperty("DataframeSplit").GetProperty("properties").GetProperty("dataframe_split").GetProperty("properties");
        Assert.Equal(signature.Select(s => s.Name), split.GetProperty("columns").GetProperty("items").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(signature.Select(s => FormatOf(s.Type)),
            split.GetProperty("data").GetProperty("items").GetProperty("prefixItems").EnumerateArray().Select(e => e.GetProperty("format").GetString()));
        var paths = root.GetProperty("paths");
        foreach (var path in new[] { "/invocations", "/ping", "/health", "/health/ready", "/health/live", "/v2/models/churn/infer" })
            Assert.True(paths.TryGetProperty(path, out _), path);
        var invocation = paths.GetProperty("/invocations").GetProperty("post");
        Assert.Equal(["#/components/schemas/DataframeSplit", "#/components/schemas/DataframeRecords"],
            invocation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("oneOf")
                .EnumerateArray().Select(e => e.GetProperty("$ref").GetString()));
        Assert.Equal("boolean", schemas.GetProperty("Prediction").GetProperty("properties").GetProperty("PredictedLabel").GetProperty("type").GetString());

        // A second export into the same folder needs --force, which replaces the bundle's files.
        Assert.Contains("--force", (await cli.RunAsync("serve", "models:/churn/1", "--export", "bundle", "out/bundle")).FailedWith(ExitCodes.InvalidState), StringComparison.Ordinal);
        (await cli.RunAsync("serve", "models:/churn/1", "--export", "bundle", "out/bundle", "--force")).Ok();
        Assert.DoesNotContain(Directory.EnumerateDirectories(bundle), d => Path.GetFileName(d).StartsWith('.'));

        // The bundle runs on its own: run.sh starts server/cairn.dll on model/, from another working folder, with no tracking store.
        var port = CliHarness.FreePort();
        var start = new ProcessStartInfo("sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetTempPath() };
        start.ArgumentList.Add(Path.Combine(bundle, "run.sh"));
        foreach (var name in new[] { "CAIRN_HOME", "CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI", "CAIRN_SERVE_API_KEY" }) start.Environment.Remove(name);
        start.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["CAIRN_HOME"] = cli.Home.Combine("elsewhere");
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!; // null only for a reused shell process
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            var ready = false;
            for (var i = 0; i < 600 && !ready && !process.HasExited; i++)
            {
                try
                {
                    using var ping = await http.GetAsync("ping", Ct);
                    ready = ping.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                if (!ready) await Task.Delay(100, Ct);
            }
            Assert.True(ready, $"the bundled server did not answer /ping: {stderr}");
            using var response = await http.PostAsync("invocations", new StringContent(
                """{"dataframe_split": {"columns": ["x1", "x2", "x3"], "data": [[0.9, 0.9, 0.1], [0.1, 0.1, 1.9]]}}""", Encoding.UTF8, "application/json"), Ct);
            var body = await response.Content.ReadAsStringAsync(Ct);
            Assert.True(response.IsSuccessStatusCode, body);
            Assert.Equal("churn", response.Headers.GetValues("X-Cairn-Model-Name").Single());
            var predictions = JsonDocument.Parse(body).RootElement.GetProperty("predictions");
            Assert.Equal(2, predictions.GetArrayLength());
            Assert.True(predictions[0].GetProperty("PredictedLabel").GetBoolean(), body);
            Assert.False(predictions[1].GetProperty("PredictedLabel").GetBoolean(), body);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static string FormatOf(string type) => type switch
    {
        "double" => "double",
        "float" => "float",
        "long" => "int64",
        "integer" => "int32",
        _ => throw new InvalidOperationException($"The test model has no {type} column."),
    };

    private static YamlNode Node(YamlMappingNode map, params string[] path)
    {
        YamlNode node = map;
        foreach (var key in path) node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        return node;
    }

    private static YamlMappingNode Map(YamlMappingNode map, params string[] path) => (YamlMappingNode)Node(map, path);

    private static string? Text(YamlMappingNode map, params string[] path) => ((YamlScalarNode)Node(map, path)).Value;

    private static List<string?> Strings(YamlMappingNode map, string key) =>
        ((YamlSequenceNode)Node(map, key)).Children.Select(c => ((YamlScalarNode)c).Value).ToList();
}
