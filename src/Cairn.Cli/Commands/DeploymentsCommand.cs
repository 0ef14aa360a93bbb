using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Cairn.Serving;
using Spectre.Console;

namespace Cairn.Cli.Commands;

/// <summary>
/// <c>cairn deployments</c>: create, update, list, show, delete, canary, promote, rollback and history of named deployments,
/// on the embedded store or a server. Routes are written <c>models:/name@alias=WEIGHT</c>; shadows <c>--shadow URI</c>.
/// </summary>
internal static class DeploymentsCommand
{
    public static Command Create(CliContext app)
    {
        var trackingUri = CliCommon.TrackingUriOption();
        trackingUri.Recursive = true;
        var json = new Option<bool>("--json") { Description = "Print JSON (the REST API's shapes) instead of tables.", Recursive = true };
        var user = new Option<string?>("--user") { Description = "Who the revision history records (default: the OS user; a server with access control records the signed-in user).", Recursive = true };

        Option<string[]> RouteOption() => new("--route")
        {
            Description = "A primary route as MODEL_URI=WEIGHT, e.g. models:/churn@champion=90 (repeatable; weights sum to 100).",
            AllowMultipleArgumentsPerToken = false,
        };
        Option<string[]> ShadowOption() => new("--shadow")
        {
            Description = "A shadow route: sees a copy of every request, never answers (repeatable), e.g. models:/churn@challenger.",
            AllowMultipleArgumentsPerToken = false,
        };
        Option<string?> StickyHeaderOption() => new("--sticky-header") { Description = "Route by a hash of this request header, so one key always gets the same model." };
        Option<string?> StickyFieldOption() => new("--sticky-field") { Description = "Route by a hash of this JSON field of the request." };
        Option<string?> DescriptionOption() => new("--description") { Description = "What the deployment is for." };
        Option<string?> LogRateOption(string more) => new("--log-sample-rate")
        {
            Description = "The share of this deployment's requests the prediction log keeps, 0 (none) to 1 (all); unset follows the server's rate" + more + ".",
        };

        var create = new Command("create", "Create a deployment, e.g. cairn deployments create churn --route models:/churn@champion=100 --shadow models:/churn@challenger --sticky-header X-User-Id");
        var createName = new Argument<string>("NAME");
        var createRoutes = RouteOption();
        var createShadows = ShadowOption();
        var createHeader = StickyHeaderOption();
        var createField = StickyFieldOption();
        var createDescription = DescriptionOption();
        var createRate = LogRateOption("");
        create.Arguments.Add(createName);
        create.Options.Add(createRoutes);
        create.Options.Add(createShadows);
        create.Options.Add(createHeader);
        create.Options.Add(createField);
        create.Options.Add(createDescription);
        create.Options.Add(createRate);
        create.SetHandler(app, async (parse, ctx, ct) =>
        {
            // Everything is checked before the store is opened: a typo costs nothing and exits 2.
            var spec = new DeploymentSpec(parse.GetValue(createName)!, Routes(parse.GetValue(createRoutes), parse.GetValue(createShadows)) ?? [],
                DeploymentWire.Sticky(parse.GetValue(createHeader), parse.GetValue(createField)), parse.GetValue(createDescription),
                LogRate(parse.GetValue(createRate), allowDefault: false).Rate);
            DeploymentValidator.ValidateSpec(spec);
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var deployment = await client.Deployments.CreateDeploymentAsync(spec, UserOf(parse, user), ct);
            Report(ctx, parse.GetValue(json), deployment, $"Created deployment '{deployment.Name}' (revision {deployment.Revision}).");
            return ExitCodes.Ok;
        });

        var update = new Command("update", "Change a deployment's routes (--route and --shadow replace them all), sticky key or description; writes a new revision.");
        var updateName = new Argument<string>("NAME");
        var updateRoutes = RouteOption();
        var updateShadows = ShadowOption();
        var updateHeader = StickyHeaderOption();
        var updateField = StickyFieldOption();
        var noSticky = new Option<bool>("--no-sticky") { Description = "Remove the sticky key: requests are split at random." };
        var updateDescription = DescriptionOption();
        var updateRate = LogRateOption(" (\"default\" goes back to it)");
        update.Arguments.Add(updateName);
        update.Options.Add(updateRoutes);
        update.Options.Add(updateShadows);
        update.Options.Add(updateHeader);
        update.Options.Add(updateField);
        update.Options.Add(noSticky);
        update.Options.Add(updateDescription);
        update.Options.Add(updateRate);
        update.SetHandler(app, async (parse, ctx, ct) =>
        {
            var name = parse.GetValue(updateName)!;
            DeploymentValidator.ValidateName(name, "NAME");
            var (rate, clearRate) = LogRate(parse.GetValue(updateRate), allowDefault: true);
            var change = new DeploymentUpdate(Routes(parse.GetValue(updateRoutes), parse.GetValue(updateShadows)), parse.GetValue(updateDescription),
                DeploymentWire.Sticky(parse.GetValue(updateHeader), parse.GetValue(updateField)), parse.GetValue(noSticky), rate, clearRate);
            DeploymentValidator.ValidateUpdate(change);
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var deployment = await client.Deployments.UpdateDeploymentAsync(name, change, UserOf(parse, user), ct);
            Report(ctx, parse.GetValue(json), deployment, $"Updated deployment '{deployment.Name}' (revision {deployment.Revision}).");
            return ExitCodes.Ok;
        });

        var list = new Command("list", "List deployments with their routes.");
        list.SetHandler(app, async (parse, ctx, ct) =>
        {
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var deployments = await client.Deployments.ListDeploymentsAsync(ct);
            if (parse.GetValue(json))
            {
                Print(ctx, JsonSerializer.Serialize(new DeploymentsResponse { Deployments = deployments.Select(d => d.ToWire()).ToList() }, DeploymentJson.Default.DeploymentsResponse));
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("Name", "Routes", "Sticky", "Revision", "Updated", "By");
            foreach (var d in deployments)
                table.AddRow(Markup.Escape(d.Name), Markup.Escape(string.Join(", ", d.Routes.Select(RouteText))), Markup.Escape(StickyText(d.Sticky)),
                    d.Revision.ToString(CultureInfo.InvariantCulture), CliCommon.Time(d.LastUpdatedTime), Markup.Escape(d.UpdatedBy ?? ""));
            ctx.Console.Write(table);
            return ExitCodes.Ok;
        });

        var show = new Command("show", "Show a deployment: routes, weights, roles and sticky key.");
        var showName = new Argument<string>("NAME");
        show.Arguments.Add(showName);
        show.SetHandler(app, async (parse, ctx, ct) =>
        {
            var name = parse.GetValue(showName)!;
            DeploymentValidator.ValidateName(name, "NAME");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var d = await client.Deployments.GetDeploymentAsync(name, ct);
            if (parse.GetValue(json))
            {
                Print(ctx, JsonSerializer.Serialize(new DeploymentResponse { Deployment = d.ToWire() }, DeploymentJson.Default.DeploymentResponse));
                return ExitCodes.Ok;
            }
            ctx.Console.MarkupLine($"[bold]{Markup.Escape(d.Name)}[/]  revision {d.Revision}  {Markup.Escape(d.Description ?? "")}");
            ctx.Console.MarkupLine($"Sticky key: {Markup.Escape(StickyText(d.Sticky))}");
            ctx.Console.MarkupLine($"Prediction log: {(d.LogSampleRate is { } r ? $"keeps {r.ToString("0.###", CultureInfo.InvariantCulture)} of the requests" : "the server's sample rate")}");
            ctx.Console.Write(RoutesTable(d.Routes));
            return ExitCodes.Ok;
        });

        var delete = new Command("delete", "Delete a deployment with its history.");
        var deleteName = new Argument<string>("NAME");
        delete.Arguments.Add(deleteName);
        delete.SetHandler(app, async (parse, ctx, ct) =>
        {
            var name = parse.GetValue(deleteName)!;
            DeploymentValidator.ValidateName(name, "NAME");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            await client.Deployments.DeleteDeploymentAsync(name, ct);
            if (parse.GetValue(json)) Print(ctx, "{}");
            else ctx.Console.MarkupLine($"Deleted deployment '{Markup.Escape(name)}'.");
            return ExitCodes.Ok;
        });

        var canary = new Command("canary", "Send a share of the traffic to a candidate beside the primary route, e.g. cairn deployments canary churn models:/churn@challenger --percent 10%");
        var canaryName = new Argument<string>("NAME");
        var canaryUri = new Argument<string>("MODEL_URI");
        var percent = new Option<string>("--percent") { Description = "The candidate's share, 1..99 (\"10\" or \"10%\"); run again with a bigger share to step up.", Required = true };
        canary.Arguments.Add(canaryName);
        canary.Arguments.Add(canaryUri);
        canary.Options.Add(percent);
        canary.SetHandler(app, async (parse, ctx, ct) =>
        {
            var name = parse.GetValue(canaryName)!;
            DeploymentValidator.ValidateName(name, "NAME");
            var uri = parse.GetValue(canaryUri)!;
            DeploymentValidator.ParseRouteUri(uri, "MODEL_URI");
            var share = Percent(parse.GetValue(percent));
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var deployment = await client.Deployments.CanaryAsync(name, uri, share, UserOf(parse, user), ct);
            Report(ctx, parse.GetValue(json), deployment, $"'{uri}' now answers {share}% of '{name}' (revision {deployment.Revision}).");
            return ExitCodes.Ok;
        });

        var promote = new Command("promote", "Give the running canary all the traffic; the route it ran beside is removed.");
        var promoteName = new Argument<string>("NAME");
        promote.Arguments.Add(promoteName);
        promote.SetHandler(app, async (parse, ctx, ct) =>
        {
            var name = parse.GetValue(promoteName)!;
            DeploymentValidator.ValidateName(name, "NAME");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var deployment = await client.Deployments.PromoteAsync(name, UserOf(parse, user), ct);
            var primary = deployment.PrimaryRoutes.First().ModelUri;
            Report(ctx, parse.GetValue(json), deployment, $"'{primary}' now answers all of '{name}' (revision {deployment.Revision}).");
            return ExitCodes.Ok;
        });

        var rollback = new Command("rollback", "Restore the routing of the revision before the current one (again: one further back).");
        var rollbackName = new Argument<string>("NAME");
        rollback.Arguments.Add(rollbackName);
        rollback.SetHandler(app, async (parse, ctx, ct) =>
        {
            var name = parse.GetValue(rollbackName)!;
            DeploymentValidator.ValidateName(name, "NAME");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var deployment = await client.Deployments.RollbackAsync(name, UserOf(parse, user), ct);
            Report(ctx, parse.GetValue(json), deployment,
                $"Rolled '{name}' back (revision {deployment.Revision}): {string.Join(", ", deployment.Routes.Select(RouteText))}.");
            return ExitCodes.Ok;
        });

        var history = new Command("history", "The revisions of a deployment, newest first: what changed, who and when.");
        var historyName = new Argument<string>("NAME");
        history.Arguments.Add(historyName);
        history.SetHandler(app, async (parse, ctx, ct) =>
        {
            var name = parse.GetValue(historyName)!;
            DeploymentValidator.ValidateName(name, "NAME");
            using var client = await CliCommon.OpenAsync(ctx, parse, trackingUri, ct);
            var revisions = await client.Deployments.GetHistoryAsync(name, 1000, ct);
            if (parse.GetValue(json))
            {
                Print(ctx, JsonSerializer.Serialize(new DeploymentHistoryResponse { Revisions = revisions.Select(r => r.ToWire()).ToList() }, DeploymentJson.Default.DeploymentHistoryResponse));
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("Revision", "When", "Who", "Action", "Routes");
            foreach (var r in revisions)
                table.AddRow(r.Revision.ToString(CultureInfo.InvariantCulture), CliCommon.Time(r.Timestamp), Markup.Escape(r.User),
                    Markup.Escape(r.RestoredRevision is { } restored ? $"{r.Action} to {restored}" : r.Action), Markup.Escape(string.Join(", ", r.Routes.Select(RouteText))));
            ctx.Console.Write(table);
            return ExitCodes.Ok;
        });

        return new Command("deployments", "Named deployments: routes with weights, sticky keys, shadows, canary, promotion, rollback and history.")
        {
            trackingUri, json, user, create, update, list, show, delete, canary, promote, rollback, history,
        };
    }

    /// <summary>The routes of --route URI=WEIGHT and --shadow URI; null when neither was given.</summary>
    private static List<DeploymentRoute>? Routes(string[]? routes, string[]? shadows)
    {
        if ((routes is null || routes.Length == 0) && (shadows is null || shadows.Length == 0)) return null;
        var result = new List<DeploymentRoute>();
        foreach (var text in routes ?? [])
        {
            var eq = text.LastIndexOf('=');
            if (eq <= 0 || eq == text.Length - 1)
                throw new InvalidParameterValueException($"Invalid value '{text}' for '--route': expected MODEL_URI=WEIGHT, e.g. models:/churn@champion=90.");
            var weightText = text[(eq + 1)..].TrimEnd('%');
            if (!int.TryParse(weightText, NumberStyles.None, CultureInfo.InvariantCulture, out var weight))
                throw new InvalidParameterValueException($"Invalid value '{text}' for '--route': the weight '{text[(eq + 1)..]}' is not a whole number from 0 to 100.");
            result.Add(DeploymentRoute.Primary(text[..eq], weight));
        }
        foreach (var uri in shadows ?? []) result.Add(DeploymentRoute.Shadow(uri));
        return result;
    }

    private static int Percent(string? text)
    {
        var digits = (text ?? "").Trim().TrimEnd('%');
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= 99
            ? value
            : throw new InvalidParameterValueException($"Invalid value '{text}' for '--percent': expected a share from 1 to 99, e.g. 10 or 10%.");
    }

    private static string RouteText(DeploymentRoute r) => r.Role == RouteRole.Shadow
        ? $"{r.ModelUri} (shadow)"
        : $"{r.ModelUri}={r.Weight}%{(r.Canary ? " (canary)" : "")}";

    /// <summary>The <c>--log-sample-rate</c> value: a number 0..1, or (on update) <c>default</c> to follow the server again.</summary>
    private static (double? Rate, bool Clear) LogRate(string? text, bool allowDefault)
    {
        if (text is null) return (null, false);
        if (allowDefault && text == "default") return (null, true);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate is >= 0 and <= 1) return (rate, false);
        throw new InvalidParameterValueException(
            $"Invalid value for option '--log-sample-rate': '{text}' is not a number from 0 to 1{(allowDefault ? " or 'default'" : "")}.");
    }

    private static string StickyText(StickyKey? sticky) => sticky switch
    {
        { Source: StickyKeySource.Header } h => $"header {h.Name}",
        { Source: StickyKeySource.Field } f => $"field {f.Name}",
        _ => "none (random split)",
    };

    private static Table RoutesTable(IEnumerable<DeploymentRoute> routes)
    {
        var table = new Table().AddColumns("Model", "Role", "Weight", "Canary");
        foreach (var r in routes)
            table.AddRow(Markup.Escape(r.ModelUri), r.Role == RouteRole.Shadow ? "shadow" : "primary",
                r.Weight is { } w ? $"{w}%" : "-", r.Canary ? "yes" : "");
        return table;
    }

    private static string? UserOf(ParseResult parse, Option<string?> user) =>
        parse.GetValue(user) is { Length: > 0 } u ? u : Environment.UserName;

    private static void Report(CliContext ctx, bool json, Deployment deployment, string message)
    {
        if (json) Print(ctx, JsonSerializer.Serialize(new DeploymentResponse { Deployment = deployment.ToWire() }, DeploymentJson.Default.DeploymentResponse));
        else
        {
            ctx.Console.MarkupLine(Markup.Escape(message));
            ctx.Console.Write(RoutesTable(deployment.Routes));
        }
    }

    private static void Print(CliContext ctx, string text) => ctx.Out.WriteLine(text);
}
