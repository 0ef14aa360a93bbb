namespace Cairn.Registry;

/// <summary>
/// The text of a registry audit action, as the database stores it and the wire carries it. One table for both, so the
/// SQL store and the HTTP store agree on every action.
/// </summary>
internal static class RegistryActionText
{
    internal static string ToText(RegistryAction action) => action switch
    {
        RegistryAction.AliasSet => "alias_set",
        RegistryAction.AliasDeleted => "alias_deleted",
        RegistryAction.AliasRolledBack => "alias_rolled_back",
        RegistryAction.AliasPromoted => "alias_promoted",
        _ => "stage_transitioned",
    };

    internal static RegistryAction Parse(string text) => text switch
    {
        "alias_set" => RegistryAction.AliasSet,
        "alias_deleted" => RegistryAction.AliasDeleted,
        "alias_rolled_back" => RegistryAction.AliasRolledBack,
        "alias_promoted" => RegistryAction.AliasPromoted,
        "stage_transitioned" => RegistryAction.StageTransitioned,
        _ => throw new CairnException(ErrorCode.INTERNAL_ERROR, $"Unknown registry audit action '{text}' in the database."),
    };
}
