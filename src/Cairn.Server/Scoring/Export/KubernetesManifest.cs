using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Cairn.Server.Scoring.Export;

/// <summary>What <c>cairn serve --export k8s</c> writes into the manifest.</summary>
/// <param name="ModelUri">What the container serves (<c>models:/...</c> resolved through <paramref name="TrackingUri"/>, or a folder in the image).</param>
/// <param name="Name">The Deployment's and Service's name (a DNS label).</param>
/// <param name="Image">The container image (the repository's Dockerfile builds <c>cairn</c>).</param>
/// <param name="Replicas">Pods to run, at least 1.</param>
/// <param name="Port">The port <c>cairn serve</c> listens on in the pod, 1..65535.</param>
/// <param name="TrackingUri">The tracking server the container resolves the model with, or null (then the image's own store).</param>
internal sealed record KubernetesOptions(string ModelUri, string Name, string Image, int Replicas, int Port, string? TrackingUri)
{
    public const string DefaultImage = "cairn:latest";
    public const string DefaultModelUri = "models:/MODEL@champion";

    /// <summary>The model's name in answers and metrics (<c>cairn serve --name</c>), or null for the registered or folder name.</summary>
    public string? ModelName { get; init; }

    /// <summary>The Secret holding <c>api-key</c> (required) and <c>tracking-token</c> (optional).</summary>
    public string SecretName => Name + "-secrets";
}

/// <summary>
/// Writes the Kubernetes manifest for <c>cairn serve</c>: a Deployment (the image's <c>dotnet cairn.dll</c> running
/// <c>serve MODEL --host 0.0.0.0 --port P</c>, the API key from a Secret through <c>secretKeyRef</c>, readiness on
/// <c>/health/ready</c> and liveness on <c>/health/live</c>, resource requests and limits, Prometheus scrape annotations on the
/// pod) and a Service, as two YAML documents emitted through YamlDotNet. The Secret is not written: its value would be
/// printed; the header comment says how to create it.
/// </summary>
internal static partial class KubernetesManifest
{
    /// <summary>Checks the options, naming the flag and the rule.</summary>
    public static void Validate(KubernetesOptions options)
    {
        if (options.Replicas < 1)
            throw new InvalidParameterValueException($"Invalid value for '--replicas': it must be at least 1; it was {options.Replicas}.");
        if (options.Port is < 1 or > 65535)
            throw new InvalidParameterValueException($"Invalid value for '--port': a container port must be between 1 and 65535; it was {options.Port}.");
        if (options.Image.Length is 0 or > 512 || !ImagePattern().IsMatch(options.Image))
            throw new InvalidParameterValueException($"Invalid value for '--image': '{options.Image}' is not an image reference (letters, digits and . _ - / : @, at most 512 characters).");
        if (!DnsLabel().IsMatch(options.Name))
            throw new InvalidParameterValueException($"Invalid value for '--name': '{options.Name}' is not a Kubernetes name (lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit).");
        if (options.TrackingUri is { } tracking && Uri.TryCreate(tracking, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0)
            throw new InvalidParameterValueException("Invalid value for '--tracking-uri': it carries credentials, which would be written into the manifest; put a token in the Secret's 'tracking-token' instead.");
    }

    /// <summary>A Kubernetes name from a model URI or folder: <c>models:/Churn Model@champion</c> gives <c>cairn-churn-model</c>.</summary>
    public static string NameFor(string? modelUri)
    {
        var stem = modelUri switch
        {
            null or "" => "",
            _ when modelUri.StartsWith("models:/", StringComparison.Ordinal) => modelUri["models:/".Length..].Split('/', '@')[0],
            _ when modelUri.StartsWith("runs:/", StringComparison.Ordinal) => modelUri.TrimEnd('/').Split('/')[^1],
            _ => Path.GetFileName(modelUri.TrimEnd('/', '\\')),
        };
        var name = NotDnsCharacters().Replace(stem.ToLowerInvariant(), "-").Trim('-');
        name = name.Length == 0 ? "cairn-serve" : "cairn-" + name;
        return name.Length <= 63 ? name : name[..63].TrimEnd('-');
    }

    /// <summary>The manifest: a comment saying how to create the Secret and apply, then the Deployment and the Service.</summary>
    public static string ToYaml(KubernetesOptions options)
    {
        Validate(options);
        var text = new StringWriter(CultureInfo.InvariantCulture);
        text.WriteLine($"# cairn serve {options.ModelUri} on Kubernetes. Create the Secret first (the API key is at least 16 characters):");
        text.WriteLine($"#   kubectl create secret generic {options.SecretName} --from-literal=api-key=\"$(openssl rand -hex 24)\"");
        text.WriteLine("# add --from-literal=tracking-token=... when the tracking server needs a token, then: kubectl apply -f THIS_FILE");
        text.WriteLine("# /metrics needs the API key too: give the Prometheus scrape job 'authorization: {credentials_file: ...}' with it.");
        var emitter = new Emitter(text, new EmitterSettings(bestIndent: 2, bestWidth: int.MaxValue, isCanonical: false, maxSimpleKeyLength: 1024, indentSequences: true));
        emitter.Emit(new StreamStart());
        foreach (var document in new[] { Deployment(options), Service(options) })
        {
            emitter.Emit(new DocumentStart(null, null, isImplicit: false));
            Write(emitter, document);
            emitter.Emit(new DocumentEnd(isImplicit: true));
        }
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    private static Dictionary<string, object?> Labels(KubernetesOptions o) => new()
    {
        ["app.kubernetes.io/name"] = o.Name,
        ["app.kubernetes.io/component"] = "model-server",
        ["app.kubernetes.io/managed-by"] = "cairn",
    };

    private static Dictionary<string, object?> Deployment(KubernetesOptions o)
    {
        var selector = new Dictionary<string, object?> { ["app.kubernetes.io/name"] = o.Name };
        var env = new List<object?>
        {
            new Dictionary<string, object?>
            {
                ["name"] = "CAIRN_SERVE_API_KEY",
                ["valueFrom"] = SecretRef(o.SecretName, "api-key", optional: false),
            },
        };
        if (o.TrackingUri is not null)
        {
            env.Add(new Dictionary<string, object?> { ["name"] = "CAIRN_TRACKING_URI", ["value"] = o.TrackingUri });
            env.Add(new Dictionary<string, object?> { ["name"] = "MLFLOW_TRACKING_TOKEN", ["valueFrom"] = SecretRef(o.SecretName, "tracking-token", optional: true) });
        }
        var container = new Dictionary<string, object?>
        {
            ["name"] = "cairn-serve",
            ["image"] = o.Image,
            // The image's entrypoint runs the tracking server; the command is replaced by the scoring one.
            ["command"] = new List<object?> { "dotnet", "cairn.dll" },
            ["args"] = Arguments(o),
            ["ports"] = new List<object?> { new Dictionary<string, object?> { ["name"] = "http", ["containerPort"] = o.Port, ["protocol"] = "TCP" } },
            ["env"] = env,
            ["readinessProbe"] = Probe("/health/ready", o.Port, initialDelay: 5, period: 5, failures: 3),
            // Loading a big model can take a while: liveness starts late and tolerates a few misses.
            ["livenessProbe"] = Probe("/health/live", o.Port, initialDelay: 30, period: 10, failures: 3),
            ["resources"] = new Dictionary<string, object?>
            {
                ["requests"] = new Dictionary<string, object?> { ["cpu"] = "250m", ["memory"] = "512Mi" },
                ["limits"] = new Dictionary<string, object?> { ["cpu"] = "2", ["memory"] = "2Gi" },
            },
            ["securityContext"] = new Dictionary<string, object?>
            {
                ["runAsNonRoot"] = true,
                ["allowPrivilegeEscalation"] = false,
                ["readOnlyRootFilesystem"] = true,
                ["capabilities"] = new Dictionary<string, object?> { ["drop"] = new List<object?> { "ALL" } },
            },
            // A read-only root: the fetched model lands in /tmp, CAIRN_HOME is /data.
            ["volumeMounts"] = new List<object?>
            {
                new Dictionary<string, object?> { ["name"] = "tmp", ["mountPath"] = "/tmp" },
                new Dictionary<string, object?> { ["name"] = "data", ["mountPath"] = "/data" },
            },
        };
        return new Dictionary<string, object?>
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "Deployment",
            ["metadata"] = new Dictionary<string, object?> { ["name"] = o.Name, ["labels"] = Labels(o) },
            ["spec"] = new Dictionary<string, object?>
            {
                ["replicas"] = o.Replicas,
                ["selector"] = new Dictionary<string, object?> { ["matchLabels"] = selector },
                ["template"] = new Dictionary<string, object?>
                {
                    ["metadata"] = new Dictionary<string, object?>
                    {
                        ["labels"] = Labels(o),
                        ["annotations"] = new Dictionary<string, object?>
                        {
                            ["prometheus.io/scrape"] = "true",
                            ["prometheus.io/port"] = o.Port.ToString(CultureInfo.InvariantCulture),
                            ["prometheus.io/path"] = "/metrics",
                        },
                    },
                    ["spec"] = new Dictionary<string, object?>
                    {
                        // Stopping lets requests in flight finish within 30 s (the host's shutdown timeout); give it a little more.
                        ["terminationGracePeriodSeconds"] = 40,
                        ["securityContext"] = new Dictionary<string, object?> { ["runAsNonRoot"] = true, ["runAsUser"] = 1654, ["fsGroup"] = 1654 },
                        ["containers"] = new List<object?> { container },
                        ["volumes"] = new List<object?>
                        {
                            new Dictionary<string, object?> { ["name"] = "tmp", ["emptyDir"] = new Dictionary<string, object?>() },
                            new Dictionary<string, object?> { ["name"] = "data", ["emptyDir"] = new Dictionary<string, object?>() },
                        },
                    },
                },
            },
        };
    }

    private static List<object?> Arguments(KubernetesOptions o)
    {
        var args = new List<object?> { "serve", o.ModelUri, "--host", "0.0.0.0", "--port", o.Port.ToString(CultureInfo.InvariantCulture), "--log-format", "json" };
        if (o.ModelName is not null) args.AddRange(["--name", o.ModelName]);
        return args;
    }

    private static Dictionary<string, object?> Service(KubernetesOptions o) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new Dictionary<string, object?> { ["name"] = o.Name, ["labels"] = Labels(o) },
        ["spec"] = new Dictionary<string, object?>
        {
            ["type"] = "ClusterIP",
            ["selector"] = new Dictionary<string, object?> { ["app.kubernetes.io/name"] = o.Name },
            ["ports"] = new List<object?> { new Dictionary<string, object?> { ["name"] = "http", ["port"] = o.Port, ["targetPort"] = "http", ["protocol"] = "TCP" } },
        },
    };

    private static Dictionary<string, object?> SecretRef(string secret, string key, bool optional) => new()
    {
        ["secretKeyRef"] = new Dictionary<string, object?> { ["name"] = secret, ["key"] = key, ["optional"] = optional },
    };

    private static Dictionary<string, object?> Probe(string path, int port, int initialDelay, int period, int failures) => new()
    {
        ["httpGet"] = new Dictionary<string, object?> { ["path"] = path, ["port"] = port },
        ["initialDelaySeconds"] = initialDelay,
        ["periodSeconds"] = period,
        ["timeoutSeconds"] = 3,
        ["failureThreshold"] = failures,
    };

    private static void Write(IEmitter emitter, object? value)
    {
        switch (value)
        {
            case Dictionary<string, object?> map:
                emitter.Emit(new MappingStart());
                foreach (var (key, item) in map)
                {
                    emitter.Emit(Text(key));
                    Write(emitter, item);
                }
                emitter.Emit(new MappingEnd());
                break;
            case List<object?> list:
                emitter.Emit(new SequenceStart(null, null, false, SequenceStyle.Block));
                foreach (var item in list) Write(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            case bool flag:
                emitter.Emit(new Scalar(null, null, flag ? "true" : "false", ScalarStyle.Plain, true, false));
                break;
            case int number:
                emitter.Emit(new Scalar(null, null, number.ToString(CultureInfo.InvariantCulture), ScalarStyle.Plain, true, false));
                break;
            case string text:
                emitter.Emit(Text(text));
                break;
            default:
                throw new InvalidOperationException($"No YAML form for {value?.GetType().Name ?? "null"}.");
        }
    }

    /// <summary>A string scalar: plain when YAML reads it back as the same string, double-quoted otherwise ("true", "5001", "$(X)").</summary>
    private static Scalar Text(string text)
    {
        var plain = PlainSafe().IsMatch(text) && !s_yamlWords.Contains(text);
        return plain
            ? new Scalar(null, null, text, ScalarStyle.Plain, true, false)
            : new Scalar(null, null, text, ScalarStyle.DoubleQuoted, false, true);
    }

    private static readonly HashSet<string> s_yamlWords = new(["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"], StringComparer.OrdinalIgnoreCase);

    [GeneratedRegex("^[A-Za-z/][A-Za-z0-9._/-]*$")]
    private static partial Regex PlainSafe();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NotDnsCharacters();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")]
    private static partial Regex ImagePattern();
}
