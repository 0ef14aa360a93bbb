using Cairn.Client;
using Cairn.Registry;
using Cairn.Tracking;
using static Cairn.ML.Training.ModelFitter;

namespace Cairn.ML.Training;

/// <summary>What a training run produced.</summary>
/// <param name="RunId">The tracked run.</param>
/// <param name="Metrics">The evaluation metrics logged (held-out split, or the mean over cross-validation folds).</param>
/// <param name="ModelUri"><c>runs:/&lt;run_id&gt;/model</c>.</param>
/// <param name="Version">The registered model version, when one was asked for.</param>
public sealed record TrainResult(string RunId, IReadOnlyDictionary<string, double> Metrics, string ModelUri, ModelVersion? Version);

/// <summary>
/// Runs a <see cref="Recipe"/>: checks the data, trains with ML.NET, evaluates on a held-out split (or by cross-validation),
/// and logs everything to a tracked run: params, the dataset input, metrics, plots and the model package as artifact <c>model</c>
/// (with <c>data_profile.json</c>). Bad recipes and bad data fail before the run starts, so nothing is logged for them.
/// </summary>
public static class Trainer
{
    public const string ModelArtifactPath = "model";

    public static Task<TrainResult> RunAsync(Recipe recipe, CairnClient client, string? registerAs = null, CancellationToken cancellationToken = default) =>
        RunAsync(recipe, client, new TrainOptions { RegisterAs = registerAs }, cancellationToken);

    /// <summary>Trains <paramref name="recipe"/> once (a recipe with a sweep goes to <see cref="Sweep.RunAsync"/>).</summary>
    public static async Task<TrainResult> RunAsync(Recipe recipe, CairnClient client, TrainOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        recipe.Validate();
        if (options.RegisterAs is not null) RegistryValidator.ValidateName(options.RegisterAs, "--register");
        var steps = recipe.Folds > 0 ? recipe.Folds + 3 : 3;
        options.Progress?.Report(new TrainingProgress("loading data", 0, steps));
        var data = options.Data is { } loading ? await loading.ConfigureAwait(false) : TrainingData.Load(recipe);
        ModelFitter.CheckSplit(recipe, data);
        // Needed with the model, and independent of it: computed while it trains.
        _ = data.ProfileAsync();
        _ = Plots.PrepareAsync();

        // The run starts while the model fits: the training does not need it, and the model package, which names the run,
        // waits for it. Everything that could be wrong with the recipe or the data has failed by now.
        var starting = client.StartRunAsync(recipe.Experiment, recipe.RunName, TrainingLog.SourceTags(recipe, new Dictionary<string, string>
        {
            ["cairn.task"] = recipe.Task.ToString().ToLowerInvariant(),
            ["cairn.trainer"] = recipe.Trainer,
        }), cancellationToken: cancellationToken);
        var work = Directory.CreateTempSubdirectory("cairn-train-");
        Task? saving = null;
        // The model package is written as soon as the model is fitted, while the held-out rows are scored.
        var fitting = Task.Run(() => ModelFitter.Fit(recipe, data,
            (fold, folds) => options.Progress?.Report(new TrainingProgress(folds > 0 ? $"training fold {fold + 1} of {folds}" : "training", 1 + fold, steps)),
            (model, scoreOrder) => saving = Task.Run(async () =>
                TrainingArtifacts.SaveModel(Path.Combine(work.FullName, ModelArtifactPath), recipe, data, model, scoreOrder, (await starting.ConfigureAwait(false)).RunId))),
            cancellationToken);
        ActiveRun run;
        IReadOnlyDictionary<string, double> metrics;
        try
        {
            run = await starting.ConfigureAwait(false);
            try
            {
                TrainingLog.LogParams(run, recipe, data);
                run.LogInput(TrainingLog.Dataset(data, recipe), "training");
                var fitted = await fitting.ConfigureAwait(false);
                metrics = fitted.Metrics;
                options.Progress?.Report(new TrainingProgress("logging the model and plots", steps - 1, steps));
                // The metrics are written while the model and the plots are; the learning curve once it is computed.
                TrainingLog.LogEvaluation(run, fitted);
                var written = Task.Run(() => run.FlushAsync(cancellationToken), cancellationToken);
                await TrainingArtifacts.LogModelAsync(client, run, recipe, data, fitted, work.FullName, saving, cancellationToken).ConfigureAwait(false);
                TrainingLog.LogCurve(run, recipe.Task, fitted);
                await written.ConfigureAwait(false);
                await run.EndAsync(RunStatus.FINISHED, cancellationToken).ConfigureAwait(false);
                options.Progress?.Report(new TrainingProgress("done", steps, steps));
            }
            catch (Exception e)
            {
                await run.EndAsync(e is OperationCanceledException ? RunStatus.KILLED : RunStatus.FAILED, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            // A failure (starting the run included) may leave the training going or the model still being written: let
            // them end before their folder goes.
            await Task.WhenAny(fitting).ConfigureAwait(false);
            if (saving is not null) await Task.WhenAny(saving).ConfigureAwait(false);
            try { work.Delete(recursive: true); } catch (IOException) { /* a temp folder left behind is harmless */ }
        }

        var modelUri = $"runs:/{run.RunId}/{ModelArtifactPath}";
        ModelVersion? version = null;
        if (options.RegisterAs is { } name) version = await RegisterAsync(client, name, modelUri, run.RunId, cancellationToken).ConfigureAwait(false);
        return new TrainResult(run.RunId, metrics, modelUri, version);
    }

    /// <summary>Creates the registered model when missing, then a version with source <paramref name="modelUri"/>.</summary>
    public static Task<ModelVersion> RegisterAsync(CairnClient client, string name, string modelUri, string runId, CancellationToken cancellationToken = default) =>
        ModelRegistration.RegisterAsync(client, name, modelUri, runId, cancellationToken);
}
