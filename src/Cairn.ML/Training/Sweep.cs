using System.Diagnostics;
using Cairn.Client;
using Cairn.Registry;
using Cairn.Tracking;

namespace Cairn.ML.Training;

/// <summary>How to run a training or a sweep.</summary>
public sealed record TrainOptions
{
    /// <summary>Register the model (of the best trial, for a sweep) under this name.</summary>
    public string? RegisterAs { get; init; }

    /// <summary>Trials run at the same time (a sweep's <c>-j</c>); 1 runs them one after another.</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>Hears each step of a training and each finished trial of a sweep.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>
    /// The recipe's data, already being loaded (by <see cref="TrainingData.Load"/> for this same recipe) while the caller
    /// did something else, such as opening the tracking store; null loads it when the training starts.
    /// </summary>
    public Task<TrainingData>? Data { get; init; }
}

/// <summary>
/// Where a training or a sweep is: <see cref="Completed"/> of <see cref="Total"/> steps (trials, for a sweep),
/// with the trial that just ended and the best so far.
/// </summary>
public sealed record TrainingProgress(string Stage, int Completed, int Total, TrialOutcome? Trial = null, TrialOutcome? Best = null, string? Metric = null);

/// <summary>One trial of a sweep: its run, settings, metrics and how it ended.</summary>
public sealed record TrialOutcome(int Number, string RunId, TrialSettings Settings, IReadOnlyDictionary<string, double> Metrics, RunStatus Status,
    string? Error, TimeSpan Duration);

/// <summary>What a sweep produced: the parent run, every trial that ran, and the best one (whose model the parent holds).</summary>
public sealed record SweepResult(string ParentRunId, IReadOnlyList<TrialOutcome> Trials, TrialOutcome Best, string Metric, bool Maximize,
    int Skipped, bool StoppedByTimeBudget, string ModelUri, ModelVersion? Version);

/// <summary>
/// Runs a recipe's <see cref="SweepSpec"/>: the data is loaded and checked once, then each trial trains as a child run of one
/// parent run, up to <see cref="TrainOptions.Parallelism"/> at a time, until the trials or the time budget run out. The best
/// trial (by the sweep's metric and goal; ties go to the earlier trial, so the result does not depend on <c>-j</c>) is tagged
/// <c>cairn.best_trial</c>; the parent gets its params as <c>best.*</c>, its metrics, and its model package and plots, kept in
/// memory from the trial rather than trained again.
/// </summary>
public static class Sweep
{
    public static async Task<SweepResult> RunAsync(Recipe recipe, CairnClient client, TrainOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(client);
        options ??= new TrainOptions();
        var spec = recipe.Sweep ?? throw new ArgumentException("The recipe has no sweep section.", nameof(recipe));
        recipe.Validate();
        if (options.RegisterAs is not null) RegistryValidator.ValidateName(options.RegisterAs, "--register");
        if (options.Parallelism < 1) throw new InvalidParameterValueException($"-j must be 1 or more, got {options.Parallelism}.");
        var trials = spec.Expand(recipe);
        options.Progress?.Report(new TrainingProgress("loading data", 0, trials.Count));
        var data = options.Data is { } loading ? await loading.ConfigureAwait(false) : TrainingData.Load(recipe);
        ModelFitter.CheckSplit(recipe, data);
        // Needed with the best model, and independent of it: computed while the trials train.
        _ = data.ProfileAsync();
        _ = Plots.PrepareAsync();
        var swept = spec.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

        var clock = Stopwatch.StartNew();
        var parent = await client.StartRunAsync(recipe.Experiment, recipe.RunName ?? $"sweep-{recipe.Trainer}", TrainingLog.SourceTags(recipe, new Dictionary<string, string>
        {
            ["cairn.task"] = recipe.Task.ToString().ToLowerInvariant(),
            ["cairn.sweep"] = "true",
        }), cancellationToken: cancellationToken).ConfigureAwait(false);
        var outcomes = new List<TrialOutcome>();
        var gate = new Lock();
        (TrialOutcome Outcome, ModelFitter.Fitted Fitted, Recipe Recipe)? best = null;
        var skipped = 0;
        try
        {
            TrainingLog.LogParams(parent, recipe, data, swept);
            parent.LogParam("sweep.method", spec.Method.ToString().ToLowerInvariant());
            parent.LogParam("sweep.trials", trials.Count);
            parent.LogParam("sweep.metric", spec.Metric);
            parent.LogParam("sweep.goal", spec.Maximize ? "maximize" : "minimize");
            parent.LogParam("sweep.seed", spec.Seed);
            parent.LogParam("sweep.space", Truncate(spec.Describe()));
            if (spec.TimeBudget is { } budget) parent.LogParam("sweep.time_budget_s", budget.TotalSeconds);
            parent.LogInput(TrainingLog.Dataset(data, recipe), "training");

            var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(trials, parallel, async (settings, token) =>
            {
                if (spec.TimeBudget is { } limit && clock.Elapsed >= limit)
                {
                    Interlocked.Increment(ref skipped);
                    return;
                }
                var (outcome, fitted, trialRecipe) = await RunTrialAsync(recipe, settings, data, client, parent.RunId, token).ConfigureAwait(false);
                TrainingProgress report;
                lock (gate)
                {
                    outcomes.Add(outcome);
                    if (fitted is not null && Better(outcome, best?.Outcome, spec)) best = (outcome, fitted, trialRecipe);
                    report = new TrainingProgress($"trial {outcome.Number}", outcomes.Count, trials.Count, outcome, best?.Outcome, spec.Metric);
                }
                options.Progress?.Report(report);
            }).ConfigureAwait(false);

            outcomes.Sort((a, b) => a.Number.CompareTo(b.Number));
            var failed = outcomes.Count(o => o.Status != RunStatus.FINISHED);
            if (best is not { } winner)
            {
                var first = outcomes.FirstOrDefault(o => o.Error is not null);
                throw new InvalidStateException(first is null
                    ? $"{recipe.Source}: no trial ran within the time budget of {spec.TimeBudget?.TotalSeconds:0.#} s."
                    : $"{recipe.Source}: every trial failed; trial {first.Number}: {first.Error}");
            }

            await client.Store.LogBatchAsync(winner.Outcome.RunId, tags: [new RunTag("cairn.best_trial", "true")], cancellationToken: cancellationToken).ConfigureAwait(false);
            parent.SetTag("cairn.best_run_id", winner.Outcome.RunId);
            parent.SetTag("cairn.best_trial", winner.Outcome.Number.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (skipped > 0) parent.SetTag("cairn.sweep.stopped_by", "time_budget");
            parent.LogParam("best.trial", winner.Outcome.Number);
            parent.LogParam("best.trainer", winner.Outcome.Settings.Trainer);
            foreach (var (name, value) in winner.Outcome.Settings.Hyperparameters.Where(h => swept.Contains(h.Key)))
                parent.LogParam("best." + name, value);
            TrainingLog.LogMetrics(parent, recipe.Task, winner.Fitted);
            parent.LogMetric("trials_completed", outcomes.Count - failed);
            parent.LogMetric("trials_failed", failed);
            parent.LogMetric("trials_skipped", skipped);
            options.Progress?.Report(new TrainingProgress("logging the best model and plots", outcomes.Count, trials.Count, Best: winner.Outcome));
            await TrainingArtifacts.LogModelAsync(client, parent, winner.Recipe, data, winner.Fitted, cancellationToken).ConfigureAwait(false);
            await parent.EndAsync(RunStatus.FINISHED, cancellationToken).ConfigureAwait(false);

            var modelUri = $"runs:/{parent.RunId}/{Trainer.ModelArtifactPath}";
            ModelVersion? version = null;
            if (options.RegisterAs is { } registerAs) version = await Trainer.RegisterAsync(client, registerAs, modelUri, parent.RunId, cancellationToken).ConfigureAwait(false);
            return new SweepResult(parent.RunId, outcomes, winner.Outcome, spec.Metric, spec.Maximize, skipped, skipped > 0, modelUri, version);
        }
        catch (Exception e)
        {
            await parent.EndAsync(e is OperationCanceledException ? RunStatus.KILLED : RunStatus.FAILED, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<(TrialOutcome Outcome, ModelFitter.Fitted? Fitted, Recipe Recipe)> RunTrialAsync(
        Recipe recipe, TrialSettings settings, TrainingData data, CairnClient client, string parentRunId, CancellationToken cancellationToken)
    {
        var trialRecipe = recipe.WithTrial(settings.Trainer, settings.Hyperparameters);
        var clock = Stopwatch.StartNew();
        var run = await client.StartRunAsync(recipe.Experiment, $"trial-{settings.Number}", new Dictionary<string, string>
        {
            ["cairn.trial"] = settings.Number.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cairn.trainer"] = settings.Trainer,
            [SystemTags.SourceType] = "JOB",
        }, parentRunId, cancellationToken).ConfigureAwait(false);
        try
        {
            run.LogParam("trainer", settings.Trainer);
            foreach (var (name, value) in settings.Hyperparameters) run.LogParam(name, value);
            var fitted = await Task.Run(() => ModelFitter.Fit(trialRecipe, data), cancellationToken).ConfigureAwait(false);
            TrainingLog.LogMetrics(run, trialRecipe.Task, fitted);
            await run.EndAsync(RunStatus.FINISHED, cancellationToken).ConfigureAwait(false);
            return (new TrialOutcome(settings.Number, run.RunId, settings, fitted.Metrics, RunStatus.FINISHED, null, clock.Elapsed), fitted, trialRecipe);
        }
        catch (OperationCanceledException)
        {
            await run.EndAsync(RunStatus.KILLED, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            // One bad combination (a trainer that cannot fit this data, say) must not stop the sweep: record it and go on.
            run.SetTag("cairn.error", Truncate($"{e.GetType().Name}: {e.Message}"));
            await run.EndAsync(RunStatus.FAILED, CancellationToken.None).ConfigureAwait(false);
            return (new TrialOutcome(settings.Number, run.RunId, settings, new Dictionary<string, double>(), RunStatus.FAILED, e.Message, clock.Elapsed), null, trialRecipe);
        }
    }

    /// <summary>Whether <paramref name="candidate"/> beats <paramref name="current"/>: a finite, better metric, or an equal one from an earlier trial.</summary>
    internal static bool Better(TrialOutcome candidate, TrialOutcome? current, SweepSpec spec)
    {
        if (!candidate.Metrics.TryGetValue(spec.Metric, out var value) || double.IsNaN(value)) return false;
        if (current is null || !current.Metrics.TryGetValue(spec.Metric, out var held) || double.IsNaN(held)) return true;
        if (value == held) return candidate.Number < current.Number;
        return spec.Maximize ? value > held : value < held;
    }

    private static string Truncate(string text) =>
        text.Length > TrackingLimits.MaxParamValueLength ? text[..TrackingLimits.MaxParamValueLength] : text;
}
