using System.CommandLine;
using System.Text.Json;
using Cairn.Client;
using Cairn.Contracts;
using Cairn.Tracking;
using Spectre.Console;
using static Cairn.Cli.Commands.CliCommon;

namespace Cairn.Cli.Commands;

/// <summary><c>cairn experiments list|create|delete|restore</c>.</summary>
internal static class ExperimentsCommand
{
    public static Command Create(CliContext app) => new("experiments", "List, create, delete and restore experiments.")
    {
        List(app), CreateExperiment(app), Delete(app), Restore(app),
    };

    private static Command List(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var view = ViewOption();
        var command = new Command("list", "List experiments.") { trackingUri, json, view };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var experiments = new List<Experiment>();
            await foreach (var e in client.Store.SearchAllExperimentsAsync(new ExperimentSearch(ViewType: ParseView(parse.GetValue(view)!)), cancellationToken))
                experiments.Add(e);
            if (parse.GetValue(json))
            {
                WriteJson(ctx, w => JsonSerializer.Serialize(w, new ExperimentsPage { Experiments = experiments.Select(e => e.ToWire()).ToList() }, MlflowJson.Wire.ExperimentsPage));
                return 0;
            }
            var table = new Table().AddColumns("ID", "Name", "Artifact location", "Stage", "Created");
            foreach (var e in experiments)
                table.AddRow(Markup.Escape(e.ExperimentId), Markup.Escape(e.Name), Markup.Escape(e.ArtifactLocation),
                    e.LifecycleStage == LifecycleStage.Active ? "active" : "[red]deleted[/]", Time(e.CreationTime));
            ctx.Console.Write(table);
            return 0;
        });
        return command;
    }

    private static Command CreateExperiment(CliContext app)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var name = new Argument<string>("name") { Description = "The new experiment's name." };
        var location = new Option<string?>("--artifact-location") { Description = "Where its runs keep artifacts (default: the store's artifact root)." };
        var command = new Command("create", "Create an experiment and print its id.") { name, trackingUri, json, location };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var id = await client.Store.CreateExperimentAsync(parse.GetValue(name)!, parse.GetValue(location), cancellationToken: cancellationToken);
            if (parse.GetValue(json)) WriteJson(ctx, w => JsonSerializer.Serialize(w, new CreateExperimentResponse { ExperimentId = id }, MlflowJson.Wire.CreateExperimentResponse));
            else ctx.Out.WriteLine(id);
            return 0;
        });
        return command;
    }

    private static Command Delete(CliContext app) => StageCommand(app, "delete", "Delete an experiment and its runs (restorable until garbage-collected).",
        (store, id, ct) => store.DeleteExperimentAsync(id, ct), "deleted");

    private static Command Restore(CliContext app) => StageCommand(app, "restore", "Restore a deleted experiment.",
        (store, id, ct) => store.RestoreExperimentAsync(id, ct), "restored");

    private static Command StageCommand(CliContext app, string verb, string description, Func<ITrackingStore, string, CancellationToken, Task> apply, string done)
    {
        var trackingUri = TrackingUriOption();
        var json = JsonOption();
        var experiment = new Argument<string>("experiment") { Description = "The experiment's id or name." };
        var command = new Command(verb, description) { experiment, trackingUri, json };
        command.SetHandler(app, async (parse, ctx, cancellationToken) =>
        {
            using var client = await OpenAsync(ctx, parse, trackingUri, cancellationToken);
            var target = await ResolveExperimentAsync(client.Store, parse.GetValue(experiment)!, cancellationToken);
            await apply(client.Store, target.ExperimentId, cancellationToken);
            if (parse.GetValue(json))
                WriteJson(ctx, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("experiment_id", target.ExperimentId);
                    w.WriteEndObject();
                });
            else ctx.Out.WriteLine($"Experiment {target.ExperimentId} ({target.Name}) {done}.");
            return 0;
        });
        return command;
    }
}
