using System.Globalization;
using System.Text.Encodings.Web;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Auth;

/// <summary>
/// The <see cref="CairnClaims.Scheme"/> scheme: authenticates the Authorization header through <see cref="CairnAuthenticator"/>
/// and answers a challenge in MLflow's error format: 401 UNAUTHENTICATED with <c>WWW-Authenticate: Basic realm="cairn"</c>,
/// or 429 REQUEST_LIMIT_EXCEEDED with Retry-After after too many failed logins; a forbidden request gets 403 PERMISSION_DENIED.
/// </summary>
internal sealed class CairnAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    CairnAuthenticator authenticator) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string Challenge = "Basic realm=\"cairn\"";

    private const string Missing =
        "Authentication required: send HTTP Basic credentials (MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD) or a bearer token (MLFLOW_TRACKING_TOKEN).";

    private sealed class RateLimitedException(TimeSpan retryAfter) : Exception("Too many failed logins.")
    {
        public TimeSpan RetryAfter { get; } = retryAfter;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(header)) return AuthenticateResult.NoResult();
        return await authenticator.AuthenticateAsync(header.Trim(), Context.Connection.RemoteIpAddress, Context.RequestAborted) switch
        {
            CairnAuthenticator.Authenticated a => AuthenticateResult.Success(new AuthenticationTicket(a.Principal, CairnClaims.Scheme)),
            CairnAuthenticator.Limited l => AuthenticateResult.Fail(new RateLimitedException(l.RetryAfter)),
            CairnAuthenticator.Refused r => AuthenticateResult.Fail(r.Message),
            _ => AuthenticateResult.NoResult(),
        };
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        if (result.Failure is RateLimitedException limited)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(limited.RetryAfter.TotalSeconds));
            Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await MlflowExceptionHandler.WriteErrorAsync(Context, 429, nameof(ErrorCode.REQUEST_LIMIT_EXCEEDED),
                $"Too many failed logins for this user or from this address; try again in {seconds} s.", Context.RequestAborted);
            return;
        }
        Response.Headers.WWWAuthenticate = Challenge;
        await MlflowExceptionHandler.WriteErrorAsync(Context, 401, nameof(ErrorCode.UNAUTHENTICATED),
            result.Failure?.Message ?? Missing, Context.RequestAborted);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        MlflowExceptionHandler.WriteErrorAsync(Context, 403, nameof(ErrorCode.PERMISSION_DENIED),
            "Permission denied.", Context.RequestAborted);
}
