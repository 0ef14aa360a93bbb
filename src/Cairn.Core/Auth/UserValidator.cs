namespace Cairn.Auth;

/// <summary>The rules for user names, passwords and token names; each failure names the field and the rule.</summary>
public static class UserValidator
{
    public const int MaxUsernameLength = 255;
    public const int MinPasswordLength = 8;
    public const int MaxPasswordLength = 1024;
    public const int MaxTokenNameLength = 255;

    /// <summary>At most this many live (unrevoked) tokens per user.</summary>
    public const int MaxTokensPerUser = 100;

    /// <summary>
    /// Non-empty, at most 255 characters, no control characters, no ':' (HTTP Basic separates the name from the password
    /// with it) and no spaces at either end.
    /// </summary>
    public static void ValidateUsername(string? username, string field = "username")
    {
        if (string.IsNullOrEmpty(username))
            throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
        if (username.Length > MaxUsernameLength)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': it must be at most {MaxUsernameLength} characters long, not {username.Length}.");
        if (username.Contains(':', StringComparison.Ordinal) || username.Any(char.IsControl))
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': it must not contain ':' or control characters.");
        if (username.Trim().Length != username.Length)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': it must not start or end with white space.");
    }

    /// <summary>At least 8 characters (and at most 1024, which bounds the hashing work one request can ask for).</summary>
    public static void ValidatePassword(string? password, string field = "password")
    {
        if (string.IsNullOrEmpty(password))
            throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
        if (password.Length < MinPasswordLength)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': it must be at least {MinPasswordLength} characters long.");
        if (password.Length > MaxPasswordLength)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': it must be at most {MaxPasswordLength} characters long.");
    }

    /// <summary>Non-empty, at most 255 characters, no control characters.</summary>
    public static void ValidateTokenName(string? name, string field = "name")
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new InvalidParameterValueException($"Missing value for required parameter '{field}'.");
        if (name.Length > MaxTokenNameLength)
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': it must be at most {MaxTokenNameLength} characters long, not {name.Length}.");
        if (name.Any(char.IsControl))
            throw new InvalidParameterValueException($"Invalid value for parameter '{field}': it must not contain control characters.");
    }
}
