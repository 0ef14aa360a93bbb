namespace Cairn.Tracking;

/// <summary>The <c>mlflow.*</c> tags MLflow clients set and read.</summary>
public static class SystemTags
{
    public const string RunName = "mlflow.runName";
    public const string User = "mlflow.user";
    public const string ParentRunId = "mlflow.parentRunId";
    public const string SourceName = "mlflow.source.name";
    public const string SourceType = "mlflow.source.type";
    public const string SourceGitCommit = "mlflow.source.git.commit";
    public const string LoggedModels = "mlflow.log-model.history";
}
