namespace Cairn.Access;

/// <summary>
/// What a user may do with an experiment or a registered model, in MLflow's order: READ lets a user see it, EDIT also log
/// to it and change it, MANAGE also delete it and grant permissions on it. NO_PERMISSIONS denies even reading.
/// </summary>
internal enum Permission
{
    NoPermissions = 0,
    Read = 1,
    Edit = 2,
    Manage = 3,
}

/// <summary>The wire names of <see cref="Permission"/> (MLflow's: READ, EDIT, MANAGE, NO_PERMISSIONS).</summary>
internal static class Permissions
{
    /// <summary>The names accepted, in the order MLflow lists them.</summary>
    public static readonly IReadOnlyList<string> Names = ["READ", "EDIT", "MANAGE", "NO_PERMISSIONS"];

    public static string Name(this Permission permission) => permission switch
    {
        Permission.Read => "READ",
        Permission.Edit => "EDIT",
        Permission.Manage => "MANAGE",
        _ => "NO_PERMISSIONS",
    };

    public static bool TryParse(string? name, out Permission permission)
    {
        switch (name)
        {
            case "READ": permission = Permission.Read; return true;
            case "EDIT": permission = Permission.Edit; return true;
            case "MANAGE": permission = Permission.Manage; return true;
            case "NO_PERMISSIONS": permission = Permission.NoPermissions; return true;
            default: permission = Permission.NoPermissions; return false;
        }
    }

    /// <summary>Parses a permission name; anything else is INVALID_PARAMETER_VALUE naming <paramref name="field"/>.</summary>
    public static Permission Parse(string? name, string field = "permission") =>
        TryParse(name, out var permission)
            ? permission
            : throw new InvalidParameterValueException(
                $"Invalid value '{name}' for parameter '{field}': expected one of {string.Join(", ", Names)}.");
}
