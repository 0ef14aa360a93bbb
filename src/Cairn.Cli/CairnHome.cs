namespace Cairn.Cli;

/// <summary>Where the embedded default keeps its database and artifacts: CAIRN_HOME, or ./.cairn.</summary>
internal static class CairnHome
{
    public static string PathFrom(Func<string, string?> getEnvironmentVariable) =>
        System.IO.Path.GetFullPath(getEnvironmentVariable("CAIRN_HOME") is { Length: > 0 } home ? home : ".cairn");

    public static string ArtifactsFrom(Func<string, string?> getEnvironmentVariable) => System.IO.Path.Combine(PathFrom(getEnvironmentVariable), "artifacts");

    /// <summary>CAIRN_TRACKING_URI, else MLFLOW_TRACKING_URI, else the embedded store in CAIRN_HOME.</summary>
    /// <remarks>Commands read the environment through <see cref="CliIO.GetEnvironmentVariable"/>, so tests run them with their own.</remarks>
    public static string TrackingUriFrom(Func<string, string?> getEnvironmentVariable) =>
        Cairn.Client.CairnClient.ResolveTrackingUri(getEnvironmentVariable);
}
