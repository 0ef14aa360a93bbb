using Cairn.Monitoring.Alerts;

namespace Cairn.Tests.Monitoring.Alerts;

/// <summary>The alerts: section of the monitoring file: every field, and one clear refusal per mistake.</summary>
public sealed class AlertRulesFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly Dictionary<string, string> Environment = new() { ["HOOK_TOKEN"] = "s3cr3t-token" };

    private IReadOnlyList<AlertRule> Parse(string yaml) =>
        AlertRulesFile.Parse(yaml, "monitoring.yaml", _dir.Path, name => Environment.GetValueOrDefault(name));

    private string Refusal(string yaml) => Assert.Throws<InvalidParameterValueException>(() => Parse(yaml)).Message;

    [Fact]
    public void A_full_file_gives_rules_with_their_windows_and_actions()
    {
        var rules = Parse("""
            monitors:
              - deployment: churn-api
                schedule: "0 * * * *"
            alerts:
              - name: tenure-drift
                deployment: churn-api
                condition: psi(feature=tenure) > 0.2
                for: 2 windows
                resolve_after: 3
                actions:
                  - log
                  - webhook: {url: "https://hooks.example.com/cairn", secret_header: X-Hook-Token, secret_env: HOOK_TOKEN, timeout_seconds: 2, retries: 4, backoff_seconds: 0.5}
                  - retrain: {folder: pipelines/churn, stage: train}
              - name: accuracy
                condition: accuracy < 0.8 for 2 windows
                actions: [log]
            """);
        Assert.Equal(2, rules.Count);
        var drift = rules[0];
        Assert.Equal(("tenure-drift", "churn-api", 2, 3), (drift.Name, drift.Deployment, drift.ForWindows, drift.ResolveAfter));
        Assert.Equal(["log", "webhook", "retrain"], drift.Actions.Select(a => a.Kind));
        var hook = Assert.IsType<WebhookAlertAction>(drift.Actions[1]);
        Assert.Equal(("https://hooks.example.com/cairn", "X-Hook-Token", "s3cr3t-token", 2.0, 4, 0.5),
            (hook.Url.ToString(), hook.SecretHeader, hook.Secret, hook.Timeout.TotalSeconds, hook.Retries, hook.Backoff.TotalSeconds));
        Assert.DoesNotContain("s3cr3t", hook.ToString(), StringComparison.Ordinal);
        var retrain = Assert.IsType<RetrainAlertAction>(drift.Actions[2]);
        Assert.Equal((Path.Combine(_dir.Path, "pipelines", "churn"), "train", true), (retrain.Folder, retrain.Stage, retrain.Force));
        Assert.Equal((null, 2, 1), (rules[1].Deployment, rules[1].ForWindows, rules[1].ResolveAfter));
        Assert.True(rules[1].Watches("anything"));
        Assert.False(drift.Watches("other-api"));
    }

    [Fact]
    public void A_file_without_alerts_has_no_rules()
    {
        Assert.Empty(Parse("monitors: []\n"));
        Assert.Empty(Parse(""));
        Assert.Empty(Parse("alerts:\n"));
    }

    [Theory]
    [InlineData("other: 1\n", "monitoring.yaml: unknown top-level key 'other' (allowed: alerts, monitors)")]
    [InlineData("alerts: {a: 1}\n", "monitoring.yaml: 'alerts' must be a list of rules")]
    [InlineData("alerts:\n  - condition: rows > 1\n    actions: [log]\n", "monitoring.yaml: alerts[0]: 'name' is required")]
    [InlineData("alerts:\n  - name: 'bad name'\n    condition: rows > 1\n    actions: [log]\n", "alerts[0]: 'name' must be 1 to 100 letters")]
    [InlineData("alerts:\n  - name: r\n    actions: [log]\n", "alert rule 'r': 'condition' is required")]
    [InlineData("alerts:\n  - name: r\n    condition: rows >\n    actions: [log]\n", "alert rule 'r': condition at position 7: expected a number after '>'")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n", "alert rule 'r': 'actions' must be a list of at least one action")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions: [page]\n", "alert rule 'r': actions[0]: unknown action 'page' (known: log, webhook, retrain)")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    severity: high\n    actions: [log]\n", "alert rule 'r': unknown field 'severity'")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1 for 2 windows\n    for: 3\n    actions: [log]\n", "alert rule 'r': 'for' says 3 windows but the condition says 2")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    for: 0\n    actions: [log]\n", "alert rule 'r': 'for' must be a number of windows")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    resolve_after: x\n    actions: [log]\n", "alert rule 'r': 'resolve_after' must be a number of windows from 1 to 1000, not 'x'")]
    [InlineData("alerts:\n  - name: r\n    deployment: 'a/b'\n    condition: rows > 1\n    actions: [log]\n", "alert rule 'r': 'deployment' is not a deployment name")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions: [log]\n  - name: r\n    condition: rows > 2\n    actions: [log]\n", "alert rule 'r': the name is used by an earlier rule")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'ftp://x/y'}\n", "alert rule 'r': actions[0] (webhook): 'url' must be an absolute http:// or https:// URL")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'https://u:p@x/y'}\n", "'url' must not hold a user or password")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'https://x/y', secret_header: X-T}\n", "'secret_header' and a secret ('secret' or 'secret_env') go together")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'https://x/y', secret_header: X-T, secret_env: NOT_SET}\n", "'secret_env' names environment variable 'NOT_SET', which is not set")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'https://x/y', secret_header: 'X T', secret: abc}\n", "'secret_header' is not a valid HTTP header name")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'https://x/y', retries: 11}\n", "'retries' must be a whole number from 0 to 10, not '11'")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'https://x/y', timeout_seconds: 0}\n", "'timeout_seconds' must be a number from 0.1 to 300, not '0'")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - webhook: {url: 'https://x/y', method: PUT}\n", "unknown setting 'method'")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - retrain: {stage: train}\n", "alert rule 'r': actions[0] (retrain): 'folder' (the pipeline's folder, holding cairn.yaml) is required")]
    [InlineData("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - retrain: {folder: p, stage: a}\n      - retrain: {folder: p, stage: b}\n", "alert rule 'r': 'actions' holds more than one retrain")]
    [InlineData("alerts: [\n", "monitoring.yaml: line")]
    public void Mistakes_are_refused_in_one_line_naming_the_rule_and_the_problem(string yaml, string expected)
    {
        var message = Refusal(yaml);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Rules_and_actions_are_bounded()
    {
        var many = "alerts:\n" + string.Concat(Enumerable.Range(0, AlertRulesFile.MaxRules + 1).Select(i => $"  - {{name: r{i}, condition: rows > 1, actions: [log]}}\n"));
        Assert.Contains("at most 200 are allowed", Refusal(many), StringComparison.Ordinal);
        var actions = "alerts:\n  - name: r\n    condition: rows > 1\n    actions: [" + string.Join(", ", Enumerable.Repeat("log", 11)) + "]\n";
        Assert.Contains("at most 10 are allowed", Refusal(actions), StringComparison.Ordinal);
    }

    [Fact]
    public void Retrain_targets_are_checked_against_the_pipeline_on_disk()
    {
        var rules = Parse("alerts:\n  - name: r\n    condition: rows > 1\n    actions:\n      - retrain: {folder: churn, stage: train}\n");
        var missing = Assert.Throws<InvalidParameterValueException>(() => AlertRulesFile.CheckTargets(rules, "monitoring.yaml")).Message;
        Assert.Contains("alert rule 'r': retrain: folder", missing, StringComparison.Ordinal);
        Assert.Contains("holds no cairn.yaml", missing, StringComparison.Ordinal);

        Directory.CreateDirectory(_dir.Combine("churn"));
        File.WriteAllText(_dir.Combine("churn", "cairn.yaml"), "stages:\n  prepare:\n    cmd: echo hi\n");
        var noStage = Assert.Throws<InvalidParameterValueException>(() => AlertRulesFile.CheckTargets(rules, "monitoring.yaml")).Message;
        Assert.Contains("defines no stage 'train'", noStage, StringComparison.Ordinal);

        File.WriteAllText(_dir.Combine("churn", "cairn.yaml"), "stages:\n  train:\n    cmd: echo hi\n");
        AlertRulesFile.CheckTargets(rules, "monitoring.yaml");
    }
}
