namespace Cairn.Server.Auth;

/// <summary>Access control. Section <c>Cairn:Auth</c>; off by default (a loopback-only single-user server).</summary>
public sealed class CairnAuthOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string Section = "Cairn:Auth";

    /// <summary>Whether requests must authenticate (HTTP Basic or a bearer token) and are checked against permissions.</summary>
    public bool Enabled { get; set; }

    /// <summary>The permission a user has on an experiment or registered model nobody granted them one on: READ (MLflow's default), EDIT, MANAGE or NO_PERMISSIONS.</summary>
    public string DefaultPermission { get; set; } = "READ";

    /// <summary>The first admin's user name, created at first start when no user exists (<c>CAIRN_ADMIN_USERNAME</c>).</summary>
    public string AdminUsername { get; set; } = "admin";
}
