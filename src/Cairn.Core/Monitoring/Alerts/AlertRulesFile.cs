using System.Globalization;
using System.Text.RegularExpressions;
using Cairn.Data;
using Cairn.Pipelines;
using YamlDotNet.RepresentationModel;

namespace Cairn.Monitoring.Alerts;

/// <summary>
/// Reads the <c>alerts:</c> section of the monitoring file (the file <c>cairn server --monitoring FILE</c> takes, whose
/// <c>monitors:</c> section the monitor reads). Every error is one line naming the file, the rule and the problem.
/// <code>
/// alerts:
///   - name: tenure-drift
///     deployment: churn-api            # optional: every deployment when left out
///     condition: psi(feature=tenure) > 0.2 for 2 windows
///     resolve_after: 1                 # false windows that resolve an open incident (default 1)
///     actions:
///       - log
///       - webhook: {url: https://hooks.example.com/cairn, secret_header: X-Hook-Token, secret_env: HOOK_TOKEN}
///       - retrain: {folder: ../churn, stage: train}
/// </code>
/// </summary>
internal static partial class AlertRulesFile
{
    /// <summary>The most rules in one file.</summary>
    public const int MaxRules = 200;

    /// <summary>The most actions of one rule.</summary>
    public const int MaxActions = 10;

    private static readonly string[] TopLevel = ["alerts", "monitors"];
    private static readonly string[] RuleFields = ["name", "deployment", "condition", "for", "resolve_after", "actions", "description"];
    private static readonly string[] WebhookFields = ["url", "secret_header", "secret", "secret_env", "timeout_seconds", "retries", "backoff_seconds"];
    private static readonly string[] RetrainFields = ["folder", "stage", "force"];

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")]
    private static partial Regex NameRegex();

    [GeneratedRegex(@"^[A-Za-z0-9!#$%&'*+.^_`|~\-]{1,100}$")]
    private static partial Regex HeaderNameRegex();

    /// <summary>Reads the rules of the file at <paramref name="path"/>; retrain folders resolve against the file's folder.</summary>
    public static IReadOnlyList<AlertRule> Load(string path, Func<string, string?> environment)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new ResourceDoesNotExistException($"Monitoring file '{path}' does not exist.");
        var info = new FileInfo(full);
        if (info.Length > 1024 * 1024) throw new InvalidParameterValueException($"{Path.GetFileName(full)}: the monitoring file is larger than 1 MB.");
        return Parse(File.ReadAllText(full), Path.GetFileName(full), Path.GetDirectoryName(full)!, environment);
    }

    /// <summary>Parses the rules in <paramref name="yaml"/>; <paramref name="source"/> names the file in errors.</summary>
    public static IReadOnlyList<AlertRule> Parse(string yaml, string source, string baseDirectory, Func<string, string?> environment)
    {
        var root = YamlHelper.LoadRoot(yaml, source);
        if (root is null) return [];
        if (root is not YamlMappingNode top) throw new InvalidParameterValueException($"{source}: expected a mapping with 'alerts' (and 'monitors') at the top level.");
        foreach (var key in top.Children.Keys.Select(Text))
        {
            if (!TopLevel.Contains(key, StringComparer.Ordinal))
                throw new InvalidParameterValueException($"{source}: unknown top-level key '{key}' (allowed: {string.Join(", ", TopLevel)}).");
        }
        if (!top.Children.TryGetValue(new YamlScalarNode("alerts"), out var alertsNode) || alertsNode is YamlScalarNode { Value: null or "" or "~" or "null" })
            return [];
        if (alertsNode is not YamlSequenceNode list) throw new InvalidParameterValueException($"{source}: 'alerts' must be a list of rules.");
        if (list.Children.Count > MaxRules) throw new InvalidParameterValueException($"{source}: 'alerts' holds {list.Children.Count} rules; at most {MaxRules} are allowed.");
        var rules = new List<AlertRule>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < list.Children.Count; i++)
        {
            var rule = ParseRule(list.Children[i], $"{source}: alerts[{i}]", baseDirectory, environment, source);
            if (!names.Add(rule.Name)) throw new InvalidParameterValueException($"{source}: alert rule '{rule.Name}': the name is used by an earlier rule.");
            rules.Add(rule);
        }
        return rules;
    }

    private static AlertRule ParseRule(YamlNode node, string where, string baseDirectory, Func<string, string?> environment, string source)
    {
        if (node is not YamlMappingNode body) throw new InvalidParameterValueException($"{where}: a rule must be a mapping with name, condition and actions.");
        var nameText = Scalar(body, "name", where);
        if (nameText is null) throw new InvalidParameterValueException($"{where}: 'name' is required.");
        if (!NameRegex().IsMatch(nameText))
            throw new InvalidParameterValueException($"{where}: 'name' must be 1 to 100 letters, digits, '_', '-' or '.' (got '{Clip(nameText)}').");
        var rule = $"{source}: alert rule '{nameText}'";
        foreach (var key in body.Children.Keys.Select(Text))
        {
            if (!RuleFields.Contains(key, StringComparer.Ordinal))
                throw new InvalidParameterValueException($"{rule}: unknown field '{key}' (allowed: {string.Join(", ", RuleFields)}).");
        }
        var deployment = Scalar(body, "deployment", rule);
        if (deployment is not null && !NameRegex().IsMatch(deployment))
            throw new InvalidParameterValueException($"{rule}: 'deployment' is not a deployment name (letters, digits, '.', '_', '-').");
        var conditionText = Scalar(body, "condition", rule) ?? throw new InvalidParameterValueException($"{rule}: 'condition' is required.");
        var parsed = AlertConditionParser.Parse(rule, conditionText);

        int? forField = null;
        if (Scalar(body, "for", rule) is { } forText)
        {
            var count = forText.EndsWith(" windows", StringComparison.Ordinal) ? forText[..^" windows".Length]
                : forText.EndsWith(" window", StringComparison.Ordinal) ? forText[..^" window".Length] : forText;
            forField = Int(count.Trim(), "for", rule, 1, AlertConditionParser.MaxForWindows, "a number of windows (2, or '2 windows')");
        }
        if (forField is not null && parsed.ForWindows is not null && forField != parsed.ForWindows)
            throw new InvalidParameterValueException($"{rule}: 'for' says {forField} windows but the condition says {parsed.ForWindows}; give it once.");
        var resolveAfter = Scalar(body, "resolve_after", rule) is { } r
            ? Int(r.Replace(" windows", "", StringComparison.Ordinal).Trim(), "resolve_after", rule, 1, AlertConditionParser.MaxForWindows, "a number of windows")
            : 1;

        if (!body.Children.TryGetValue(new YamlScalarNode("actions"), out var actionsNode) || actionsNode is not YamlSequenceNode actionList || actionList.Children.Count == 0)
            throw new InvalidParameterValueException($"{rule}: 'actions' must be a list of at least one action (log, webhook, retrain).");
        if (actionList.Children.Count > MaxActions)
            throw new InvalidParameterValueException($"{rule}: 'actions' holds {actionList.Children.Count} actions; at most {MaxActions} are allowed.");
        var actions = new List<AlertAction>();
        for (int i = 0; i < actionList.Children.Count; i++)
            actions.Add(ParseAction(actionList.Children[i], $"{rule}: actions[{i}]", baseDirectory, environment));
        if (actions.OfType<RetrainAlertAction>().Count() > 1)
            throw new InvalidParameterValueException($"{rule}: 'actions' holds more than one retrain; a rule retrains one pipeline.");
        return new AlertRule(nameText, deployment, conditionText, parsed.Condition, forField ?? parsed.ForWindows ?? 1, resolveAfter, actions);
    }

    private static AlertAction ParseAction(YamlNode node, string where, string baseDirectory, Func<string, string?> environment)
    {
        string kind;
        YamlMappingNode? settings = null;
        switch (node)
        {
            case YamlScalarNode s:
                kind = s.Value ?? "";
                break;
            case YamlMappingNode { Children.Count: 1 } m:
                kind = Text(m.Children.Keys.First());
                var value = m.Children.Values.First();
                if (value is YamlMappingNode map) settings = map;
                else if (value is not YamlScalarNode { Value: null or "" or "~" or "null" })
                    throw new InvalidParameterValueException($"{where}: the settings of '{kind}' must be a mapping.");
                break;
            default:
                throw new InvalidParameterValueException($"{where}: an action is 'log', or a mapping of one of log, webhook, retrain to its settings.");
        }
        switch (kind)
        {
            case "log":
                if (settings is { Children.Count: > 0 }) throw new InvalidParameterValueException($"{where}: 'log' takes no settings.");
                return new LogAlertAction();
            case "webhook":
                return ParseWebhook(settings ?? throw new InvalidParameterValueException($"{where}: 'webhook' needs settings with at least 'url'."), $"{where} (webhook)", environment);
            case "retrain":
                return ParseRetrain(settings ?? throw new InvalidParameterValueException($"{where}: 'retrain' needs settings with 'folder' and 'stage'."), $"{where} (retrain)", baseDirectory);
            default:
                throw new InvalidParameterValueException($"{where}: unknown action '{Clip(kind)}' (known: log, webhook, retrain).");
        }
    }

    private static WebhookAlertAction ParseWebhook(YamlMappingNode settings, string where, Func<string, string?> environment)
    {
        CheckFields(settings, WebhookFields, where);
        var urlText = Scalar(settings, "url", where) ?? throw new InvalidParameterValueException($"{where}: 'url' is required.");
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
            throw new InvalidParameterValueException($"{where}: 'url' must be an absolute http:// or https:// URL.");
        if (url.UserInfo.Length > 0)
            throw new InvalidParameterValueException($"{where}: 'url' must not hold a user or password; use secret_header with secret_env.");
        var header = Scalar(settings, "secret_header", where);
        var secret = Scalar(settings, "secret", where);
        var secretEnv = Scalar(settings, "secret_env", where);
        if (secret is not null && secretEnv is not null) throw new InvalidParameterValueException($"{where}: give 'secret' or 'secret_env', not both.");
        if (secretEnv is not null)
        {
            secret = environment(secretEnv);
            if (string.IsNullOrEmpty(secret)) throw new InvalidParameterValueException($"{where}: 'secret_env' names environment variable '{secretEnv}', which is not set.");
        }
        if (header is null != (secret is null))
            throw new InvalidParameterValueException($"{where}: 'secret_header' and a secret ('secret' or 'secret_env') go together.");
        if (header is not null && !HeaderNameRegex().IsMatch(header))
            throw new InvalidParameterValueException($"{where}: 'secret_header' is not a valid HTTP header name.");
        if (secret is not null && secret.Any(c => c < 0x20 || c == 0x7f))
            throw new InvalidParameterValueException($"{where}: the secret holds control characters, which a header cannot carry.");
        var timeout = Double(settings, "timeout_seconds", where, 0.1, 300) ?? 10;
        var retries = Scalar(settings, "retries", where) is { } rt ? Int(rt, "retries", where, 0, 10, "a whole number") : 3;
        var backoff = Double(settings, "backoff_seconds", where, 0, 60) ?? 1;
        return new WebhookAlertAction(url, header, secret, TimeSpan.FromSeconds(timeout), retries, TimeSpan.FromSeconds(backoff));
    }

    private static RetrainAlertAction ParseRetrain(YamlMappingNode settings, string where, string baseDirectory)
    {
        CheckFields(settings, RetrainFields, where);
        var folder = Scalar(settings, "folder", where) ?? throw new InvalidParameterValueException($"{where}: 'folder' (the pipeline's folder, holding cairn.yaml) is required.");
        var stage = Scalar(settings, "stage", where) ?? throw new InvalidParameterValueException($"{where}: 'stage' (the cairn.yaml stage to run) is required.");
        var force = Scalar(settings, "force", where) switch
        {
            null or "true" => true,
            "false" => false,
            var other => throw new InvalidParameterValueException($"{where}: 'force' must be true or false, not '{Clip(other)}'."),
        };
        return new RetrainAlertAction(Path.GetFullPath(Path.Combine(baseDirectory, folder)), stage, force);
    }

    /// <summary>
    /// Checks what the rules point at on this machine: every retrain folder holds a <c>cairn.yaml</c> that defines its stage.
    /// Run by <c>cairn alerts check</c> and when the server starts.
    /// </summary>
    public static void CheckTargets(IReadOnlyList<AlertRule> rules, string source)
    {
        foreach (var rule in rules)
        {
            foreach (var retrain in rule.Actions.OfType<RetrainAlertAction>())
            {
                var where = $"{source}: alert rule '{rule.Name}': retrain";
                var file = Path.Combine(retrain.Folder, PipelineFile.FileName);
                if (!File.Exists(file)) throw new InvalidParameterValueException($"{where}: folder '{retrain.Folder}' holds no {PipelineFile.FileName}.");
                IReadOnlyList<StageDefinition> stages;
                try
                {
                    stages = PipelineFile.Load(file);
                }
                catch (CairnException e)
                {
                    throw new InvalidParameterValueException($"{where}: {e.Message}");
                }
                if (!stages.Any(s => string.Equals(s.Name, retrain.Stage, StringComparison.Ordinal)))
                    throw new InvalidParameterValueException($"{where}: {PipelineFile.FileName} in '{retrain.Folder}' defines no stage '{retrain.Stage}'.");
            }
        }
    }

    private static void CheckFields(YamlMappingNode settings, string[] allowed, string where)
    {
        foreach (var key in settings.Children.Keys.Select(Text))
        {
            if (!allowed.Contains(key, StringComparer.Ordinal))
                throw new InvalidParameterValueException($"{where}: unknown setting '{Clip(key)}' (allowed: {string.Join(", ", allowed)}).");
        }
    }

    private static string Text(YamlNode node) => node is YamlScalarNode s ? s.Value ?? "" : node.ToString();

    private static string? Scalar(YamlMappingNode map, string key, string where)
    {
        if (!map.Children.TryGetValue(new YamlScalarNode(key), out var node)) return null;
        if (node is not YamlScalarNode s) throw new InvalidParameterValueException($"{where}: '{key}' must be a single value.");
        return s.Value is null or "" or "~" || (s.Value == "null" && s.Style == YamlDotNet.Core.ScalarStyle.Plain) ? null : s.Value;
    }

    private static int Int(string text, string field, string where, int min, int max, string what)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new InvalidParameterValueException($"{where}: '{field}' must be {what} from {min} to {max}, not '{Clip(text)}'.");
        return value;
    }

    private static double? Double(YamlMappingNode map, string field, string where, double min, double max)
    {
        if (Scalar(map, field, where) is not { } text) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value >= min && value <= max))
            throw new InvalidParameterValueException($"{where}: '{field}' must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, not '{Clip(text)}'.");
        return value;
    }

    private static string Clip(string text) => text.Length <= 60 ? text : text[..60] + "...";
}
