using Cairn.Registry;

namespace Cairn.Contracts;

/// <summary>Maps registry entities to MLflow's wire messages and back.</summary>
public static class RegistryWireMapping
{
    /// <summary>MLflow leaves aliases out of search results and latest_versions; <paramref name="withAliases"/> says whether to write them.</summary>
    public static ModelVersionMessage ToWire(this ModelVersion v, bool withAliases = true) => new()
    {
        Name = v.Name,
        Version = v.Version,
        CreationTimestamp = v.CreationTimestamp,
        LastUpdatedTimestamp = v.LastUpdatedTimestamp,
        UserId = string.IsNullOrEmpty(v.UserId) ? null : v.UserId,
        CurrentStage = v.CurrentStage.ToString(),
        Description = v.Description ?? "",
        Source = v.Source,
        RunId = v.RunId ?? "",
        Status = v.Status.ToString(),
        StatusMessage = v.StatusMessage,
        Tags = v.Tags.Count == 0 ? null : v.Tags.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        RunLink = v.RunLink ?? "",
        Aliases = withAliases && v.Aliases.Count > 0 ? v.Aliases.ToList() : null,
    };

    public static RegisteredModelMessage ToWire(this RegisteredModel m) => new()
    {
        Name = m.Name,
        CreationTimestamp = m.CreationTimestamp,
        LastUpdatedTimestamp = m.LastUpdatedTimestamp,
        Description = m.Description ?? "",
        LatestVersions = m.LatestVersions.Count == 0 ? null : m.LatestVersions.Select(v => v.ToWire(withAliases: false)).ToList(),
        Tags = m.Tags.Count == 0 ? null : m.Tags.Select(t => new KeyValue { Key = t.Key, Value = t.Value }).ToList(),
        Aliases = m.Aliases.Count == 0 ? null : m.Aliases.Select(a => new RegisteredModelAliasMessage { Alias = a.Alias, Version = a.Version }).ToList(),
    };

    public static RegistryAuditEntryMessage ToWire(this RegistryAuditEntry e) => new()
    {
        Id = e.Id,
        Name = e.Name,
        Action = RegistryActionText.ToText(e.Action),
        Alias = e.Alias,
        Stage = e.Stage?.ToString(),
        PreviousStage = e.PreviousStage?.ToString(),
        FromVersion = e.FromVersion,
        ToVersion = e.ToVersion,
        User = e.User,
        Timestamp = e.Timestamp,
    };

    public static ModelVersion ToDomain(this ModelVersionMessage v) => new(
        v.Name ?? "", v.Version ?? "", v.CreationTimestamp ?? 0, v.LastUpdatedTimestamp ?? 0, NullIfEmpty(v.Description), NullIfEmpty(v.UserId),
        string.IsNullOrEmpty(v.CurrentStage) ? ModelStage.None : RegistryValidator.ParseStage(v.CurrentStage),
        v.Source ?? "", NullIfEmpty(v.RunId), NullIfEmpty(v.RunLink),
        Enum.TryParse<ModelVersionStatus>(v.Status, out var status) ? status : ModelVersionStatus.READY, NullIfEmpty(v.StatusMessage),
        (v.Tags ?? []).Select(t => new ModelVersionTag(t.Key ?? "", t.Value ?? "")).ToList(),
        v.Aliases ?? []);

    public static RegisteredModel ToDomain(this RegisteredModelMessage m) => new(
        m.Name ?? "", m.CreationTimestamp ?? 0, m.LastUpdatedTimestamp ?? 0, NullIfEmpty(m.Description),
        (m.LatestVersions ?? []).Select(v => v.ToDomain()).ToList(),
        (m.Tags ?? []).Select(t => new RegisteredModelTag(t.Key ?? "", t.Value ?? "")).ToList(),
        (m.Aliases ?? []).Select(a => new RegisteredModelAlias(a.Alias ?? "", a.Version ?? "")).ToList());

    public static RegistryAuditEntry ToDomain(this RegistryAuditEntryMessage e) => new(
        e.Id, e.Name ?? "", RegistryActionText.Parse(e.Action ?? ""), e.Alias,
        e.Stage is null ? null : RegistryValidator.ParseStage(e.Stage),
        e.PreviousStage is null ? null : RegistryValidator.ParseStage(e.PreviousStage),
        e.FromVersion, e.ToVersion, e.User ?? RegistryLimits.UnknownUser, e.Timestamp);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
