using Cairn.Monitoring;

namespace Cairn.Tests.Monitoring.Alerts;

/// <summary>Monitoring windows built for the alert tests: one per hour from a fixed start.</summary>
internal static class AlertWindows
{
    public static readonly DateTimeOffset Origin = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    public static FeatureDrift Feature(string name, double psi, bool numeric = true, double ksP = 0.5, double chi2P = 0.5) => new()
    {
        Name = name,
        Type = numeric ? FeatureType.Numeric : FeatureType.Categorical,
        ReferenceCount = 100,
        CurrentCount = 100,
        ReferenceMissing = 0,
        CurrentMissing = 0,
        Ks = numeric ? new TestStatistic(0.2, ksP) : null,
        Wasserstein = numeric ? 1.5 : null,
        WassersteinNormalized = numeric ? 0.15 : null,
        Chi2 = numeric ? null : new TestStatistic(12, chi2P),
        Psi = psi,
        Js = psi / 2,
        Method = DriftMethod.Psi,
        Threshold = 0.1,
        Score = psi,
        Drifted = psi >= 0.1,
    };

    /// <summary>Window number <paramref name="index"/> (an hour each) of <paramref name="deployment"/>.</summary>
    public static MonitorWindow Window(int index, string deployment = "churn-api", IReadOnlyList<FeatureDrift>? features = null,
        IReadOnlyDictionary<string, double>? performance = null, long rows = 500, long drops = 0, FeatureDrift? prediction = null,
        string? version = "1", bool noDrift = false)
    {
        features ??= [Feature("tenure", 0.05), Feature("plan", 0.02, numeric: false)];
        var drifted = features.Count(f => f.Drifted);
        return new MonitorWindow
        {
            Deployment = deployment,
            ModelName = version is null ? null : "churn",
            ModelVersion = version,
            Start = Origin.AddHours(index),
            End = Origin.AddHours(index + 1),
            Rows = rows,
            InputDrift = noDrift ? null : new DriftReport(features, (double)drifted / features.Count, 0.5, (double)drifted / features.Count >= 0.5),
            PredictionDrift = prediction,
            LabeledRows = performance is null ? 0 : rows,
            Performance = performance ?? new Dictionary<string, double>(),
            TrainingPerformance = new Dictionary<string, double> { ["accuracy"] = 0.9 },
            PredictionLogDrops = drops,
            EvaluatedAt = Origin.AddHours(index + 1).AddMinutes(1),
        };
    }

    /// <summary>A window whose feature <c>tenure</c> has PSI <paramref name="psi"/>.</summary>
    public static MonitorWindow Psi(int index, double psi, string deployment = "churn-api") =>
        Window(index, deployment, [Feature("tenure", psi), Feature("plan", 0.02, numeric: false)]);
}
