using System.Text.Json.Serialization;

namespace Cairn.Server.Scoring.Export;

// The part of Grafana's dashboard JSON model (schemaVersion 39) that the scoring dashboard uses: enough for Grafana to import
// it as is. Property names are Grafana's camelCase; unset values are left out so Grafana applies its own defaults.

/// <summary>A Grafana dashboard: title, time range, templated variables and panels.</summary>
internal sealed record GrafanaDashboard(
    string Uid,
    string Title,
    string Description,
    IReadOnlyList<string> Tags,
    GrafanaTemplating Templating,
    IReadOnlyList<GrafanaPanel> Panels)
{
    public int SchemaVersion => 39;
    public bool Editable => true;
    public string Refresh => "30s";
    public GrafanaTimeRange Time => new("now-1h", "now");
    public int GraphTooltip => 1;
}

internal sealed record GrafanaTimeRange(string From, string To);

internal sealed record GrafanaTemplating(IReadOnlyList<GrafanaVariable> List);

/// <summary>
/// A templated variable: the Prometheus data source (<c>type: datasource</c>), or label values read from a metric
/// (<c>type: query</c>, <c>label_values(metric, label)</c>), multi-valued with "All" meaning any value. The query is the plain
/// string every Grafana version reads for Prometheus (newer ones migrate it to their query editor's object themselves).
/// </summary>
internal sealed record GrafanaVariable(string Name, string Label, string Type, string Query)
{
    /// <summary>What the variables list shows for the query.</summary>
    public string? Definition { get; init; }
    public GrafanaDatasource? Datasource { get; init; }
    public bool? Multi { get; init; }
    public bool? IncludeAll { get; init; }
    public string? AllValue { get; init; }
    public GrafanaCurrent? Current { get; init; }
    /// <summary>1: refresh the values when the dashboard loads.</summary>
    public int? Refresh { get; init; }
    /// <summary>1: sort the values alphabetically.</summary>
    public int? Sort { get; init; }
}

internal sealed record GrafanaCurrent(string Text, string Value)
{
    public bool Selected => true;
}

internal sealed record GrafanaDatasource(string Type, string Uid);

/// <summary>A panel (time series, heat map, stat or a row header) and its PromQL queries.</summary>
internal sealed record GrafanaPanel(int Id, string Type, string Title, GrafanaGridPos GridPos)
{
    public string? Description { get; init; }
    public GrafanaDatasource? Datasource { get; init; }
    public IReadOnlyList<GrafanaTarget>? Targets { get; init; }
    public GrafanaFieldConfig? FieldConfig { get; init; }
    public Dictionary<string, object>? Options { get; init; }
    public bool? Collapsed { get; init; }
}

internal sealed record GrafanaGridPos(int X, int Y, int W, int H);

/// <summary>One PromQL query of a panel; <see cref="Format"/> <c>heatmap</c> turns cumulative buckets into cells.</summary>
internal sealed record GrafanaTarget(string RefId, string Expr, string LegendFormat)
{
    public GrafanaDatasource? Datasource { get; init; }
    public string? Format { get; init; }
    public string? Interval { get; init; }
}

internal sealed record GrafanaFieldConfig(GrafanaFieldDefaults Defaults)
{
    public IReadOnlyList<object> Overrides => [];
}

internal sealed record GrafanaFieldDefaults(string Unit)
{
    public int? Min { get; init; }
    public double? Max { get; init; }
    public int? Decimals { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(GrafanaDashboard))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(Dictionary<string, object>))]
internal sealed partial class GrafanaJson : JsonSerializerContext;
