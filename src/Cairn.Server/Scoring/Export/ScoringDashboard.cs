using System.Text.Json;
using Cairn.Diagnostics;

namespace Cairn.Server.Scoring.Export;

/// <summary>
/// The Grafana dashboard of <c>cairn serve --export grafana</c>: request and error rates, latency quantiles, batch sizes,
/// the distribution of predicted values, prediction-log drops and shadow failures, filtered by deployment, model and version
/// (templated variables over the labels the series carry). Every query names only series that <c>/metrics</c> exports
/// (<see cref="ScoringMetrics"/> and <see cref="CairnTelemetry"/> through OpenTelemetry's Prometheus exporter, which writes
/// <c>cairn.scoring.requests</c> as <c>cairn_scoring_requests_total</c> and a tag <c>cairn.model.name</c> as the label
/// <c>cairn_model_name</c>); a test scrapes a real server and checks each name and label.
/// </summary>
internal static class ScoringDashboard
{
    public const string Requests = "cairn_scoring_requests_total";
    public const string Errors = "cairn_scoring_errors_total";
    public const string Duration = "cairn_scoring_request_duration_seconds";
    public const string BatchSize = "cairn_scoring_batch_size";
    public const string PredictionValue = "cairn_scoring_prediction_value";
    public const string ShadowFailures = "cairn_scoring_shadow_failures_total";
    public const string PredictionLogDropped = "cairn_prediction_log_dropped_total";

    public static readonly string DeploymentLabel = LabelOf(ScoringMetrics.DeploymentTag);
    public static readonly string ModelLabel = LabelOf(ScoringMetrics.ModelTag);
    public static readonly string VersionLabel = LabelOf(ScoringMetrics.VersionTag);
    public static readonly string OutputLabel = LabelOf(ScoringMetrics.OutputTag);
    public const string StatusLabel = "http_response_status_code";

    private const string Uid = "cairn-scoring";
    private static readonly GrafanaDatasource s_datasource = new("prometheus", "${datasource}");

    /// <summary>The dashboard as Grafana's JSON (indented), ready for Dashboards > Import.</summary>
    public static string ToJson() => JsonSerializer.Serialize(Build(), s_json.GrafanaDashboard);

    // PromQL is full of quotes and the file is no HTML page: written as they are, not as \u0022.
    private static readonly GrafanaJson s_json = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static GrafanaDashboard Build()
    {
        var selector = $"{DeploymentLabel}=~\"$deployment\", {ModelLabel}=~\"$model\", {VersionLabel}=~\"$version\"";
        var perModel = $"{ModelLabel}, {VersionLabel}";
        const string legend = "{{" + "cairn_model_name" + "}} v{{" + "cairn_model_version" + "}}";
        var panels = new PanelList();

        panels.Row("Traffic");
        panels.Add("timeseries", "Request rate", "Scoring requests answered per second, by model and version (every status).", "reqps",
            Target("A", $"sum by ({perModel}) (rate({Requests}{{{selector}}}[$__rate_interval]))", legend));
        panels.Add("timeseries", "Error ratio", "Share of scoring requests that failed (4xx bad input, 5xx model or server), by model and version.", "percentunit",
            Target("A", $"sum by ({perModel}) (rate({Errors}{{{selector}}}[$__rate_interval])) / sum by ({perModel}) (rate({Requests}{{{selector}}}[$__rate_interval]))", legend));
        panels.Add("timeseries", "Errors by status", "Failed scoring requests per second, by HTTP status.", "reqps",
            Target("A", $"sum by ({StatusLabel}) (rate({Errors}{{{selector}}}[$__rate_interval]))", "{{" + StatusLabel + "}}"));

        panels.Row("Latency and batches");
        panels.Add("timeseries", "Latency p50 / p95 / p99", "Time from reading a request's body to writing its answer: quantiles estimated from the histogram buckets.", "s",
            Quantile("A", 0.50, Duration, selector), Quantile("B", 0.95, Duration, selector), Quantile("C", 0.99, Duration, selector));
        panels.Add("timeseries", "Batch size", "Rows per scoring request: the median and p95 (from the buckets) and the mean.", "short",
            Quantile("A", 0.50, BatchSize, selector), Quantile("B", 0.95, BatchSize, selector),
            Target("C", $"sum by ({perModel}) (rate({BatchSize}_sum{{{selector}}}[$__rate_interval])) / sum by ({perModel}) (rate({BatchSize}_count{{{selector}}}[$__rate_interval]))",
                "mean " + legend));

        panels.Row("Predictions");
        panels.Add("heatmap", "Prediction value distribution", "How many predicted values fell in each bucket (a sample of at most 256 rows per request), for the selected outputs.", "short",
            Target("A", $"sum by (le) (increase({PredictionValue}_bucket{{{selector}, {OutputLabel}=~\"$output\"}}[$__rate_interval]))", "{{le}}") with { Format = "heatmap" });
        panels.Add("timeseries", "Prediction value median", "The median predicted value per output, model and version: a shift is the first sign of drift.", "short",
            Target("A", $"histogram_quantile(0.5, sum by (le, {OutputLabel}, {perModel}) (rate({PredictionValue}_bucket{{{selector}, {OutputLabel}=~\"$output\"}}[$__rate_interval])))",
                "{{" + OutputLabel + "}} " + legend));

        panels.Row("Prediction log and shadows");
        panels.Add("timeseries", "Prediction log drops", "Requests the prediction log dropped because its queue was full, closed or down (their rows are not logged).", "reqps",
            Target("A", $"sum(rate({PredictionLogDropped}[$__rate_interval]))", "dropped"));
        panels.Add("timeseries", "Shadow failures", "Shadow scorings that failed, by deployment, model and version (callers never see them).", "reqps",
            Target("A", $"sum by ({DeploymentLabel}, {perModel}) (rate({ShadowFailures}{{{DeploymentLabel}=~\"$deployment\"}}[$__rate_interval]))",
                "{{" + DeploymentLabel + "}}: " + legend));

        var variables = new List<GrafanaVariable>
        {
            new("datasource", "Data source", "datasource", "prometheus") { Current = new GrafanaCurrent("Prometheus", "prometheus") },
            LabelVariable("deployment", "Deployment", $"label_values({Requests}, {DeploymentLabel})"),
            LabelVariable("model", "Model", $"label_values({Requests}{{{DeploymentLabel}=~\"$deployment\"}}, {ModelLabel})"),
            LabelVariable("version", "Version", $"label_values({Requests}{{{DeploymentLabel}=~\"$deployment\", {ModelLabel}=~\"$model\"}}, {VersionLabel})"),
            LabelVariable("output", "Output", $"label_values({PredictionValue}_count{{{ModelLabel}=~\"$model\"}}, {OutputLabel})"),
        };
        return new GrafanaDashboard(Uid, "Cairn model serving",
            "Scoring traffic, latency, batches, predictions, prediction log and shadows of cairn serve and cairn server deployments.",
            ["cairn", "mlops", "serving"], new GrafanaTemplating(variables), panels.Panels);
    }

    /// <summary>Every PromQL expression of the dashboard: the panels' queries and the variables' <c>label_values</c> queries.</summary>
    public static IReadOnlyList<string> Expressions(GrafanaDashboard dashboard) =>
        dashboard.Panels.SelectMany(p => p.Targets ?? []).Select(t => t.Expr)
            .Concat(dashboard.Templating.List.Where(v => v.Type == "query").Select(v => v.Query))
            .ToList();

    /// <summary>OpenTelemetry's Prometheus exporter writes a tag's dots as underscores.</summary>
    private static string LabelOf(string tag) => tag.Replace('.', '_');

    private static GrafanaTarget Target(string refId, string expr, string legend) => new(refId, expr, legend) { Datasource = s_datasource };

    private static GrafanaTarget Quantile(string refId, double q, string histogram, string selector) =>
        Target(refId, $"histogram_quantile({q.ToString(System.Globalization.CultureInfo.InvariantCulture)}, sum by (le, {ModelLabel}, {VersionLabel}) " +
                      $"(rate({histogram}_bucket{{{selector}}}[$__rate_interval])))",
            $"p{Math.Round(q * 100).ToString(System.Globalization.CultureInfo.InvariantCulture)} {{{{cairn_model_name}}}} v{{{{cairn_model_version}}}}");

    private static GrafanaVariable LabelVariable(string name, string label, string query) =>
        new(name, label, "query", query)
        {
            Definition = query,
            Datasource = s_datasource,
            Multi = true,
            IncludeAll = true,
            AllValue = ".*",
            Current = new GrafanaCurrent("All", "$__all"),
            Refresh = 2,
            Sort = 1,
        };

    /// <summary>Lays panels out two to a row of Grafana's 24-column grid, under an open row header per group.</summary>
    private sealed class PanelList
    {
        private int _y;
        private int _column;

        public List<GrafanaPanel> Panels { get; } = [];

        public void Row(string title)
        {
            if (_column != 0) (_y, _column) = (_y + 8, 0);
            Panels.Add(new GrafanaPanel(Panels.Count + 1, "row", title, new GrafanaGridPos(0, _y, 24, 1)) { Collapsed = false });
            _y += 1;
        }

        public void Add(string type, string title, string description, string unit, params GrafanaTarget[] targets)
        {
            Panels.Add(new GrafanaPanel(Panels.Count + 1, type, title, new GrafanaGridPos(_column * 12, _y, 12, 8))
            {
                Description = description,
                Datasource = s_datasource,
                Targets = targets,
                FieldConfig = new GrafanaFieldConfig(new GrafanaFieldDefaults(unit)),
                Options = type == "heatmap"
                    ? new Dictionary<string, object> { ["calculate"] = false, ["cellGap"] = 1 }
                    : new Dictionary<string, object> { ["tooltip"] = new Dictionary<string, object> { ["mode"] = "multi" } },
            });
            if (++_column == 2) (_y, _column) = (_y + 8, 0);
        }
    }
}
