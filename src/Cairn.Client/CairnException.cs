namespace Cairn;

/// <summary>MLflow's error codes; the names travel on the wire unchanged.</summary>
public enum ErrorCode
{
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    RESOURCE_ALREADY_EXISTS,
    INVALID_STATE,
    BAD_REQUEST,
    MALFORMED_REQUEST,
    TEMPORARILY_UNAVAILABLE,
    ENDPOINT_NOT_FOUND,
    PERMISSION_DENIED,
    REQUEST_LIMIT_EXCEEDED,
    RESOURCE_EXHAUSTED,
    NOT_IMPLEMENTED,
    /// <summary>No or bad credentials: MLflow answers 401 (mlflow/exceptions.py).</summary>
    UNAUTHENTICATED,
}

/// <summary>The one exception type of Cairn: it carries an MLflow error code.</summary>
public class CairnException(ErrorCode errorCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public ErrorCode ErrorCode { get; } = errorCode;

    /// <summary>The HTTP status MLflow answers with for this code (mlflow/exceptions.py).</summary>
    public int HttpStatus => StatusOf(ErrorCode);

    public static int StatusOf(ErrorCode code) => code switch
    {
        // MLflow maps RESOURCE_ALREADY_EXISTS to 400, not 409.
        ErrorCode.INVALID_PARAMETER_VALUE or ErrorCode.RESOURCE_ALREADY_EXISTS or ErrorCode.INVALID_STATE
            or ErrorCode.BAD_REQUEST or ErrorCode.MALFORMED_REQUEST => 400,
        ErrorCode.RESOURCE_DOES_NOT_EXIST or ErrorCode.ENDPOINT_NOT_FOUND => 404,
        ErrorCode.UNAUTHENTICATED => 401,
        ErrorCode.PERMISSION_DENIED => 403,
        ErrorCode.REQUEST_LIMIT_EXCEEDED or ErrorCode.RESOURCE_EXHAUSTED => 429,
        ErrorCode.TEMPORARILY_UNAVAILABLE => 503,
        ErrorCode.NOT_IMPLEMENTED => 501,
        _ => 500,
    };
}

public sealed class ResourceDoesNotExistException(string message) : CairnException(ErrorCode.RESOURCE_DOES_NOT_EXIST, message);

public sealed class ResourceAlreadyExistsException(string message, Exception? inner = null)
    : CairnException(ErrorCode.RESOURCE_ALREADY_EXISTS, message, inner);

/// <summary>A caller's mistake: the message names the field and the rule it broke.</summary>
public sealed class InvalidParameterValueException(string message) : CairnException(ErrorCode.INVALID_PARAMETER_VALUE, message);

public sealed class InvalidStateException(string message) : CairnException(ErrorCode.INVALID_STATE, message);

/// <summary>
/// A promotion gate did not hold: the registry refused to move the alias and changed nothing. On the wire it is
/// INVALID_STATE (what MLflow clients expect) with Cairn's <c>cairn_reason</c> = <see cref="Reason"/> and the failed rule in
/// <c>cairn_rule</c>, so a Cairn client gets this exception back over HTTP as in-process.
/// </summary>
public sealed class PromotionRefusedException(string message, string rule) : CairnException(ErrorCode.INVALID_STATE, message)
{
    /// <summary>The value of <c>cairn_reason</c> in the error body of a refused promotion.</summary>
    public const string Reason = "PROMOTION_REFUSED";

    /// <summary>The rule that failed, as written (<c>metrics.auc &gt;= champion</c>).</summary>
    public string Rule { get; } = rule;
}
