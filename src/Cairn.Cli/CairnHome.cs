namespace Cairn.Cli;

/// <summary>Where the embedded default keeps its database and artifacts: CAIRN_HOME, or ./.cairn.</summary>
internal static class CairnHome
{
    public static string Path => PathFrom(Environment.GetEnvironmentVariable);

    public static string PathFrom(Func<string, string?> getEnvironmentVariable) =>
        System.IO.Path.GetFullPath(getEnvironmentVariable("CAIRN_HOME") is { Length: > 0 } home ? home : ".cairn");

    public static string Artifacts => System.IO.Path.Combine(Path, "artifacts");

    /// <summary>CAIRN_TRACKING_URI, else MLFLOW_TRACKING_URI, else the embedded store in CAIRN_HOME.</summary>
    public static string TrackingUri => TrackingUriFrom(Environment.GetEnvironmentVariable);

    /// <summary>The same resolution over another environment (tests run commands with their own).</summary>
    public static string TrackingUriFrom(Func<string, string?> getEnvironmentVariable) =>
        Cairn.Client.CairnClient.ResolveTrackingUri(getEnvironmentVariable);
}
