using System.Globalization;
using System.Security.Claims;

namespace Cairn.Server.Auth;

/// <summary>
/// What the authentication step puts on <see cref="ClaimsPrincipal"/> and what authorization and the audit trail read:
/// the user name (<see cref="ClaimsIdentity.Name"/>), the user's id and whether the user is an admin. With access control
/// off nobody is authenticated and every check passes.
/// </summary>
public static class CairnClaims
{
    /// <summary>The authentication scheme name Cairn registers.</summary>
    public const string Scheme = "Cairn";

    /// <summary>The claim holding the user's numeric id (<c>users.id</c>).</summary>
    public const string UserIdType = "cairn:user_id";

    /// <summary>The claim present, with value <c>true</c>, on an admin.</summary>
    public const string AdminType = "cairn:admin";

    /// <summary>The authenticated user's name, or null when the request is anonymous.</summary>
    public static string? UserName(this ClaimsPrincipal principal) =>
        principal.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;

    /// <summary>The authenticated user's id, or null when the request is anonymous.</summary>
    public static long? UserId(this ClaimsPrincipal principal) =>
        principal.FindFirst(UserIdType)?.Value is { } v && long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    /// <summary>Whether the authenticated user is an admin.</summary>
    public static bool IsAdmin(this ClaimsPrincipal principal) => principal.HasClaim(AdminType, "true");
}
