using Microsoft.Extensions.Logging;

namespace Cairn.Server.Hosting;

/// <summary>How the standalone server writes its log. Section <c>Cairn:Logging</c>.</summary>
public sealed class CairnLoggingOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Cairn:Logging";

    /// <summary>"json" writes one JSON object per log line; "console" one readable line.</summary>
    public string Format { get; set; } = "console";

    /// <summary>The least severe level written.</summary>
    public LogLevel Level { get; set; } = LogLevel.Information;
}
