using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Cairn.Monitoring.Alerts;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn alerts check FILE</c> validates the alert rules of a monitoring file offline (exit 2 with one line naming the rule
/// and the problem); <c>cairn alerts list</c> lists a server's (or the embedded store's) incidents, open ones first.
/// </summary>
internal static class AlertsCommand
{
    public static Command Create(CliContext app)
    {
        var check = new Command("check", "Check the alert rules of a monitoring file (its alerts: section) without a server: syntax, conditions, actions, retrain pipelines.");
        var file = new Argument<string>("FILE") { Description = "The monitoring YAML file (the one given to cairn server --monitoring)." };
        check.Arguments.Add(file);
        check.SetHandler(app, (parse, ctx, _) =>
        {
            var path = ctx.FullPath(parse.GetValue(file)!);
            var rules = AlertRulesFile.Load(path, ctx.GetEnvironmentVariable);
            AlertRulesFile.CheckTargets(rules, Path.GetFileName(path));
            var table = new Table().AddColumns("Rule", "Deployment", "Condition", "For", "Resolve after", "Actions");
            foreach (var r in rules)
            {
                table.AddRow(Markup.Escape(r.Name), Markup.Escape(r.Deployment ?? "(all)"), Markup.Escape(r.ConditionText),
                    Windows(r.ForWindows), Windows(r.ResolveAfter), Markup.Escape(string.Join(", ", r.Actions.Select(a => a.ToString() is { } t && a is WebhookAlertAction ? t : a.Kind))));
            }
            if (rules.Count > 0) ctx.Console.Write(table);
            ctx.Out.WriteLine($"{Path.GetFileName(path)}: {rules.Count} alert rule{(rules.Count == 1 ? "" : "s")}, valid.");
            return Task.FromResult(ExitCodes.Ok);
        });

        var trackingUri = CliCommon.TrackingUriOption();
        var json = CliCommon.JsonOption();
        var deployment = new Option<string?>("--deployment") { Description = "Only incidents of this deployment." };
        var open = new Option<bool>("--open") { Description = "Only open incidents." };
        var max = new Option<int>("--max-results") { Description = "At most this many incidents (1 to 1000).", DefaultValueFactory = _ => 100 };
        var list = new Command("list", "List alert incidents (open ones first, then recent resolved ones) from a server or the embedded store.")
        {
            trackingUri, json, deployment, open, max,
        };
        list.SetHandler(app, async (parse, ctx, ct) =>
        {
            var maxResults = parse.GetValue(max);
            if (maxResults < 1 || maxResults > Storage.SqlAlertStore.MaxResults)
                throw new InvalidParameterValueException($"Invalid value {maxResults} for --max-results: it must be from 1 to {Storage.SqlAlertStore.MaxResults}.");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var incidents = await client.Stores.Alerts.ListIncidentsAsync(parse.GetValue(deployment), parse.GetValue(open), maxResults, ct);
            if (parse.GetValue(json))
            {
                ctx.Out.WriteLine(JsonSerializer.Serialize(new AlertIncidentsResponse { Incidents = incidents.Select(i => i.ToWire()).ToList() },
                    AlertJson.Default.AlertIncidentsResponse));
                return ExitCodes.Ok;
            }
            if (incidents.Count == 0)
            {
                ctx.Out.WriteLine("No alert incidents.");
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("Id", "Rule", "Deployment", "Version", "Status", "Opened", "Resolved", "Windows", "Values", "Webhook", "Retrain");
            foreach (var i in incidents)
            {
                table.AddRow(i.Id.ToString(CultureInfo.InvariantCulture), Markup.Escape(i.Rule), Markup.Escape(i.Deployment),
                    Markup.Escape(i.ModelVersion is null ? "" : $"{i.ModelName}/{i.ModelVersion}"),
                    i.Status == IncidentStatus.Open ? "[bold red]open[/]" : "resolved",
                    CliCommon.Time(i.OpenedAt.ToUnixTimeMilliseconds()), CliCommon.Time(i.ResolvedAt?.ToUnixTimeMilliseconds()),
                    i.Windows.ToString(CultureInfo.InvariantCulture), Markup.Escape(AlertEngine.Describe(i.Values)),
                    Markup.Escape(i.WebhookStatus ?? ""), Markup.Escape(i.RetrainStatus is null ? "" : $"{i.RetrainStatus}{(i.RetrainRunId is null ? "" : " " + i.RetrainRunId)}"));
            }
            ctx.Console.Write(table);
            return ExitCodes.Ok;
        });

        return new Command("alerts", "Alert rules over monitoring windows: check a rules file, list incidents.") { check, list };
    }

    private static string Windows(int n) => n == 1 ? "1 window" : $"{n.ToString(CultureInfo.InvariantCulture)} windows";
}
