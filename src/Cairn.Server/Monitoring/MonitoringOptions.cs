using Microsoft.Extensions.Options;

namespace Cairn.Server.Monitoring;

/// <summary>The monitor's settings, section <c>Cairn:Monitoring</c> (<c>cairn server --monitoring FILE</c> sets <see cref="File"/>).</summary>
public sealed class MonitoringOptions
{
    public const string Section = "Cairn:Monitoring";

    /// <summary>The monitoring YAML file (<c>monitors:</c> and <c>alerts:</c>); null monitors nothing on a schedule (windows still run on demand).</summary>
    public string? File { get; set; }

    /// <summary>Windows kept per deployment; older ones are deleted as new ones are stored (1..1,000,000, default 1,000).</summary>
    public int MaxWindowsPerDeployment { get; set; } = 1000;

    /// <summary>Features exported as gauges per deployment and model version (drifted ones first; 0..1,000, default 50).</summary>
    public int MaxGaugeFeatures { get; set; } = 50;

    /// <summary>Finished windows a schedule evaluates at one occurrence when it is behind (1..1,000, default 24).</summary>
    public int MaxCatchUpWindows { get; set; } = 24;
}

/// <summary>The monitoring file, read once (when the options are checked at start) and then kept.</summary>
internal sealed class MonitoringConfigSource(IOptions<MonitoringOptions> options, IEnumerable<Cairn.Monitoring.IMonitorReferenceReader> readers)
{
    private readonly Lazy<MonitoringConfig> _config = new(() => options.Value.File is { Length: > 0 } file ? MonitoringConfig.Load(file) : MonitoringConfig.Empty);

    public MonitoringConfig Config => _config.Value;

    /// <summary>What reads reference files in this host, if anything does (the <c>cairn</c> command registers one).</summary>
    public Cairn.Monitoring.IMonitorReferenceReader? Reader { get; } = readers.LastOrDefault();

    public MonitorSpec? Find(string deployment) => Config.Monitors.FirstOrDefault(m => m.Deployment == deployment);
}

/// <summary>Checks the numbers and reads the file at start, so a bad monitoring file stops the server before it listens.</summary>
internal sealed class MonitoringOptionsValidation(IEnumerable<Cairn.Monitoring.IMonitorReferenceReader> readers) : IValidateOptions<MonitoringOptions>
{
    public ValidateOptionsResult Validate(string? name, MonitoringOptions options)
    {
        var errors = new List<string>();
        if (options.MaxWindowsPerDeployment is < 1 or > 1_000_000)
            errors.Add($"Invalid value '{options.MaxWindowsPerDeployment}' for '{MonitoringOptions.Section}:MaxWindowsPerDeployment': it must be between 1 and 1000000.");
        if (options.MaxGaugeFeatures is < 0 or > 1000)
            errors.Add($"Invalid value '{options.MaxGaugeFeatures}' for '{MonitoringOptions.Section}:MaxGaugeFeatures': it must be between 0 and 1000.");
        if (options.MaxCatchUpWindows is < 1 or > 1000)
            errors.Add($"Invalid value '{options.MaxCatchUpWindows}' for '{MonitoringOptions.Section}:MaxCatchUpWindows': it must be between 1 and 1000.");
        if (errors.Count == 0)
        {
            try
            {
                var config = options.File is { Length: > 0 } file ? MonitoringConfig.Load(file) : MonitoringConfig.Empty;
                if (!readers.Any() && config.Monitors.FirstOrDefault(m => m.ReferencePath is not null) is { } needs)
                    errors.Add($"Invalid monitoring file {options.File}: the monitor of '{needs.Deployment}' names a reference file, and this host has no reader for CSV or Parquet files (run it as `cairn server`).");
            }
            catch (InvalidParameterValueException e)
            {
                errors.Add(e.Message);
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
