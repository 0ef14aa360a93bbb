using System.Text.Json;
using Cairn.Contracts;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Hosting;

/// <summary>
/// Writes every failure as MLflow's error body, <c>{"error_code": ..., "message": ...}</c>, with MLflow's status.
/// Unknown errors are logged with the request id and answered as INTERNAL_ERROR without internals.
/// </summary>
internal sealed partial class MlflowExceptionHandler(ILogger<MlflowExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; not an error of ours.
            context.Response.StatusCode = 499;
            return true;
        }
        var (status, code, message) = exception switch
        {
            CairnException e => (e.HttpStatus, e.ErrorCode.ToString(), e.Message),
            BadHttpRequestException { StatusCode: 413 } => (413, nameof(ErrorCode.REQUEST_LIMIT_EXCEEDED),
                "The request body is larger than the server accepts (see --max-request-size)."),
            BadHttpRequestException e => (e.StatusCode, nameof(ErrorCode.BAD_REQUEST), e.Message),
            _ => (500, nameof(ErrorCode.INTERNAL_ERROR), $"Internal error (request {context.TraceIdentifier}); see the server log."),
        };
        if (status >= 500) LogUnhandled(logger, exception, context.Request.Method, context.Request.Path, context.TraceIdentifier);
        var body = new ErrorResponse { ErrorCode = code, Message = message };
        if (exception is PromotionRefusedException refused)
            body = new ErrorResponse { ErrorCode = code, Message = message, CairnReason = PromotionRefusedException.Reason, CairnRule = refused.Rule };
        await WriteErrorAsync(context, status, body, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public static Task WriteErrorAsync(HttpContext context, int status, string code, string message, CancellationToken cancellationToken) =>
        WriteErrorAsync(context, status, new ErrorResponse { ErrorCode = code, Message = message }, cancellationToken);

    private static async Task WriteErrorAsync(HttpContext context, int status, ErrorResponse body, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, body, MlflowJson.Wire.ErrorResponse, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path} (request {RequestId})")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path, string requestId);
}
