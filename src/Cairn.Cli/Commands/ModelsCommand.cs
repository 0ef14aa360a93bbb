using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cairn.Client;
using Cairn.Contracts;
using Cairn.Registry;
using Cairn.Tracking.Search;
using Cairn.Tracking;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn models</c>: list, show (with lineage), promote with gates, roll back an alias, show the audit history.</summary>
internal static class ModelsCommand
{
    public static Command Create(CliContext app)
    {
        var trackingUri = CliCommon.TrackingUriOption();
        trackingUri.Recursive = true;
        var json = new Option<bool>("--json") { Description = "Print JSON instead of tables.", Recursive = true };
        var user = new Option<string?>("--user") { Description = "Who the audit trail records (default: the OS user).", Recursive = true };

        var list = new Command("list", "List registered models with their aliases and latest versions.");
        var filter = new Option<string?>("--filter") { Description = "MLflow filter, e.g. \"name LIKE 'fraud%'\"." };
        list.Options.Add(filter);
        list.SetHandler(app, async (parse, ctx, ct) =>
        {
            // A bad filter is refused before the store is opened.
            _ = SearchFilterParser.ParseRegisteredModelFilter(parse.GetValue(filter));
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var models = new List<RegisteredModel>();
            string? token = null;
            do
            {
                var page = await client.Registry.SearchRegisteredModelsAsync(new RegisteredModelSearch(parse.GetValue(filter), RegistryLimits.SearchRegisteredModelsThreshold, PageToken: token), ct);
                models.AddRange(page.Items);
                token = page.NextPageToken;
            } while (token is not null);
            if (parse.GetValue(json))
            {
                Print(ctx, JsonSerializer.Serialize(new RegisteredModelsPage { RegisteredModels = models.Select(m => m.ToWire()).ToList() }, RegistryJson.Wire.RegisteredModelsPage));
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("Name", "Latest versions", "Aliases", "Updated", "Description");
            foreach (var m in models)
                table.AddRow(Markup.Escape(m.Name),
                    Markup.Escape(string.Join(", ", m.LatestVersions.Select(v => $"{v.Version} ({v.CurrentStage})"))),
                    Markup.Escape(string.Join(", ", m.Aliases.Select(a => $"{a.Alias}→{a.Version}"))),
                    Time(m.LastUpdatedTimestamp), Markup.Escape(m.Description ?? ""));
            ctx.Console.Write(table);
            return ExitCodes.Ok;
        });

        var show = new Command("show", "Show a model, or the lineage of one version: source, run, params, metrics, datasets, source commit.");
        var showName = new Argument<string>("NAME");
        var showVersion = new Argument<string?>("VERSION") { Arity = ArgumentArity.ZeroOrOne };
        show.Arguments.Add(showName);
        show.Arguments.Add(showVersion);
        show.SetHandler(app, async (parse, ctx, ct) =>
        {
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var name = parse.GetValue(showName)!;
            var versionText = parse.GetValue(showVersion);
            if (versionText is null)
            {
                var model = await client.Registry.GetRegisteredModelAsync(name, ct);
                if (parse.GetValue(json))
                {
                    Print(ctx, JsonSerializer.Serialize(new RegisteredModelResponse { RegisteredModel = model.ToWire() }, RegistryJson.Wire.RegisteredModelResponse));
                    return ExitCodes.Ok;
                }
                ctx.Console.MarkupLine($"[bold]{Markup.Escape(model.Name)}[/]  {Markup.Escape(model.Description ?? "")}");
                var versions = await AllVersionsAsync(client.Registry, name, ct);
                var table = new Table().AddColumns("Version", "Stage", "Aliases", "Run", "Source", "Created");
                foreach (var v in versions)
                    table.AddRow(v.Version, v.CurrentStage.ToString(), Markup.Escape(string.Join(", ", model.Aliases.Where(a => a.Alias.Length > 0 && a.Version == v.Version).Select(a => a.Alias))),
                        Markup.Escape(v.RunId ?? ""), Markup.Escape(v.Source), Time(v.CreationTimestamp));
                ctx.Console.Write(table);
                return ExitCodes.Ok;
            }
            var version = await client.Registry.GetModelVersionAsync(name, versionText, ct);
            var run = version.RunId is null ? null : await client.Store.GetRunAsync(version.RunId, ct);
            if (parse.GetValue(json))
            {
                Print(ctx, Lineage(version, run).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Ok;
            }
            var grid = new Grid().AddColumn().AddColumn();
            grid.AddRow("Model", Markup.Escape($"{version.Name} version {version.Version}"));
            grid.AddRow("Stage", version.CurrentStage.ToString());
            grid.AddRow("Aliases", Markup.Escape(string.Join(", ", version.Aliases)));
            grid.AddRow("Source", Markup.Escape(version.Source));
            grid.AddRow("Run", Markup.Escape(version.RunId ?? "(none)"));
            if (run is not null)
            {
                grid.AddRow("Run name", Markup.Escape(run.Info.RunName));
                grid.AddRow("Source commit", Markup.Escape(run.Data.Tags.FirstOrDefault(t => t.Key == SystemTags.SourceGitCommit)?.Value ?? "(unknown)"));
            }
            ctx.Console.Write(grid);
            if (run is null) return ExitCodes.Ok;
            var p = new Table().Title("Params").AddColumns("Key", "Value");
            foreach (var param in run.Data.Params) p.AddRow(Markup.Escape(param.Key), Markup.Escape(param.Value));
            var m = new Table().Title("Metrics").AddColumns("Key", "Value", "Step");
            foreach (var metric in run.Data.Metrics) m.AddRow(Markup.Escape(metric.Key), metric.Value.ToString("G6", CultureInfo.InvariantCulture), metric.Step.ToString(CultureInfo.InvariantCulture));
            var d = new Table().Title("Datasets").AddColumns("Name", "Digest", "Context");
            foreach (var input in run.Inputs)
                d.AddRow(Markup.Escape(input.Dataset.Name), Markup.Escape(input.Dataset.Digest), Markup.Escape(input.Tags.FirstOrDefault(t => t.Key == "mlflow.data.context")?.Value ?? ""));
            ctx.Console.Write(p);
            ctx.Console.Write(m);
            ctx.Console.Write(d);
            return ExitCodes.Ok;
        });

        var promote = new Command("promote", "Point an alias at a version if every --require rule holds; otherwise refuse and change nothing.");
        var promoteName = new Argument<string>("NAME");
        var promoteVersion = new Argument<string>("VERSION");
        var alias = new Option<string>("--alias") { Description = "The alias to move, e.g. champion.", Required = true };
        var require = new Option<string[]>("--require") { Description = "A rule such as \"metrics.auc >= champion\" or \"metrics.auc >= 0.80\" (repeatable).", AllowMultipleArgumentsPerToken = false };
        promote.Arguments.Add(promoteName);
        promote.Arguments.Add(promoteVersion);
        promote.Options.Add(alias);
        promote.Options.Add(require);
        promote.SetHandler(app, async (parse, ctx, ct) =>
        {
            // The rules are checked for syntax before the store is opened: a typo costs nothing and exits 2.
            var rules = parse.GetValue(require) ?? [];
            foreach (var rule in rules) _ = PromotionRule.Parse(rule, parse.GetValue(alias)!);
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            // A failed rule comes back as PromotionRefusedException in-process and over HTTP alike: exit code 6.
            var version = await client.Registry.PromoteAsync(parse.GetValue(promoteName)!, parse.GetValue(promoteVersion)!, parse.GetValue(alias)!,
                rules, UserOf(parse, user), ct);
            Report(ctx, parse.GetValue(json), version, $"'{parse.GetValue(alias)}' now points at {version.Name} version {version.Version}.");
            return ExitCodes.Ok;
        });

        var rollback = new Command("rollback", "Move an alias back to the version it pointed at before its last move.");
        var target = new Argument<string>("NAME@ALIAS");
        rollback.Arguments.Add(target);
        rollback.SetHandler(app, async (parse, ctx, ct) =>
        {
            var text = parse.GetValue(target)!;
            var at = text.LastIndexOf('@');
            if (at <= 0 || at == text.Length - 1)
                throw new InvalidParameterValueException($"Invalid value '{text}' for NAME@ALIAS: expected a model name and an alias, e.g. fraud@champion.");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var version = await client.Registry.RollbackAliasAsync(text[..at], text[(at + 1)..], UserOf(parse, user), ct);
            Report(ctx, parse.GetValue(json), version, $"'{text[(at + 1)..]}' rolled back to {version.Name} version {version.Version}.");
            return ExitCodes.Ok;
        });

        var history = new Command("history", "The audit trail of a model's alias and stage changes, newest first.");
        var historyName = new Argument<string>("NAME");
        history.Arguments.Add(historyName);
        history.SetHandler(app, async (parse, ctx, ct) =>
        {
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var entries = await client.Registry.GetAuditTrailAsync(parse.GetValue(historyName)!, 1000, ct);
            if (parse.GetValue(json))
            {
                Print(ctx, JsonSerializer.Serialize(new RegistryAuditResponse { Entries = entries.Select(e => e.ToWire()).ToList() }, RegistryJson.Wire.RegistryAuditResponse));
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("When (UTC)", "Who", "Change", "Alias/Stage", "From", "To");
            foreach (var e in entries)
                table.AddRow(Time(e.Timestamp), Markup.Escape(e.User), e.ToWire().Action ?? "", Markup.Escape(e.Alias ?? e.Stage?.ToString() ?? ""),
                    e.FromVersion ?? "-", e.ToVersion ?? "-");
            ctx.Console.Write(table);
            return ExitCodes.Ok;
        });

        return new Command("models", "Registered models: list, lineage, gated promotion, alias rollback, audit history.")
        {
            trackingUri, json, user, list, show, promote, rollback, history,
        };
    }

    /// <summary>How the registry words a refused promotion (PromotionRule.Check): a failed gate, not a conflicting state.</summary>

    private static async Task<List<ModelVersion>> AllVersionsAsync(IRegistryStore registry, string name, CancellationToken ct)
    {
        var all = new List<ModelVersion>();
        string? token = null;
        var filter = $"name = '{name.Replace("'", "\\'", StringComparison.Ordinal)}'";
        do
        {
            var page = await registry.SearchModelVersionsAsync(new ModelVersionSearch(filter, 1000, ["version_number DESC"], token), ct);
            all.AddRange(page.Items);
            token = page.NextPageToken;
        } while (token is not null);
        return all;
    }

    private static JsonObject Lineage(ModelVersion version, Run? run)
    {
        var node = new JsonObject
        {
            ["name"] = version.Name,
            ["version"] = version.Version,
            ["current_stage"] = version.CurrentStage.ToString(),
            ["aliases"] = new JsonArray(version.Aliases.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
            ["source"] = version.Source,
            ["run_id"] = version.RunId,
        };
        if (run is null) return node;
        node["run"] = new JsonObject
        {
            ["run_name"] = run.Info.RunName,
            ["source_commit"] = run.Data.Tags.FirstOrDefault(t => t.Key == SystemTags.SourceGitCommit)?.Value,
            ["params"] = new JsonObject(run.Data.Params.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
            ["metrics"] = new JsonObject(run.Data.Metrics.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)JsonValue.Create(m.Value)))),
            ["datasets"] = new JsonArray(run.Inputs.Select(i => (JsonNode?)new JsonObject { ["name"] = i.Dataset.Name, ["digest"] = i.Dataset.Digest }).ToArray()),
        };
        return node;
    }

    private static string? UserOf(ParseResult parse, Option<string?> user) =>
        parse.GetValue(user) is { Length: > 0 } u ? u : Environment.UserName;

    private static void Report(CliContext ctx, bool json, ModelVersion version, string message)
    {
        if (json) Print(ctx, JsonSerializer.Serialize(new ModelVersionResponse { ModelVersion = version.ToWire() }, RegistryJson.Wire.ModelVersionResponse));
        else ctx.Console.MarkupLine(Markup.Escape(message));
    }

    private static void Print(CliContext ctx, string text) => ctx.Out.WriteLine(text);

    private static string Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
