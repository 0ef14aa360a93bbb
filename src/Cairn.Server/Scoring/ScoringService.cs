using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Cairn.ML.Models;
using Cairn.Serving;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Cairn.Server.Scoring;

/// <summary>Scoring settings. Section <c>Cairn:Scoring</c>.</summary>
public sealed class ScoringOptions
{
    public const string Section = "Cairn:Scoring";

    /// <summary>The default of <see cref="MaxRequestBodyBytes"/>: 64 MB.</summary>
    public const long DefaultMaxRequestBodyBytes = 64L * 1024 * 1024;

    /// <summary>Largest scoring request body; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = DefaultMaxRequestBodyBytes;

    /// <summary>Time allowed to read, parse and score one request; past it the request gets 503.</summary>
    public double RequestTimeoutSeconds { get; set; } = 60;

    /// <summary>When set, scoring requests must carry <c>Authorization: Bearer &lt;key&gt;</c> (health probes need not).</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Micro-batching: concurrent requests of fewer rows than this are scored together in batches of up to this many rows
    /// (<see cref="MicroBatcher"/>). 0 (the default) scores each request on its own.
    /// </summary>
    public int MicroBatchMaxRows { get; set; }

    /// <summary>How long a micro-batch is held open for more rows, in microseconds; 0 (the default) takes what has queued while the previous batch was scored.</summary>
    public int MicroBatchWaitMicroseconds { get; set; }

    /// <summary>Most requests waiting for a micro-batch; past it requests get 503.</summary>
    public int MicroBatchQueueLimit { get; set; } = 4096;

    /// <summary>An expectation suite (YAML file) every <c>/invocations</c> request's input must meet (<see cref="InputValidation"/>); null: none.</summary>
    public string? ValidationSuite { get; set; }

    /// <summary>What a request failing <see cref="ValidationSuite"/> gets: <c>reject</c> (400, the default) or <c>flag</c> (scored, counted and logged).</summary>
    public string OnInvalid { get; set; } = "reject";
}

/// <summary>
/// A request's JSON body, parsed. A body of known length up to 1 MB (every single-row request) is read from the request's
/// pipe at once into a pooled buffer; others stream through <see cref="JsonDocument.ParseAsync(Stream, JsonDocumentOptions, CancellationToken)"/>.
/// </summary>
internal sealed class JsonBody : IDisposable
{
    private const int PooledLimit = 1 << 20;
    private readonly JsonDocument _document;
    private byte[]? _rented;

    private JsonBody(JsonDocument document, byte[]? rented)
    {
        _document = document;
        _rented = rented;
    }

    public JsonElement Root => _document.RootElement;

    public static async Task<JsonBody> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is not (> 0 and <= PooledLimit and var length))
            return new JsonBody(await JsonDocument.ParseAsync(request.Body, default, cancellationToken), null);
        var reader = request.BodyReader;
        var result = await reader.ReadAtLeastAsync((int)length, cancellationToken);
        var buffer = result.Buffer;
        var size = (int)Math.Min(buffer.Length, length);
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
        try
        {
            System.Buffers.BuffersExtensions.CopyTo(buffer.Slice(0, size), rented);
            reader.AdvanceTo(buffer.End);
            // The document reads the pooled bytes for its lifetime; they go back to the pool when it is disposed.
            return new JsonBody(JsonDocument.Parse(rented.AsMemory(0, size)), rented);
        }
        catch
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            throw;
        }
    }

    public void Dispose()
    {
        _document.Dispose();
        if (Interlocked.Exchange(ref _rented, null) is { } rented) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
    }
}

/// <summary>The model a scoring host serves; null until it has loaded (readiness says so).</summary>
public sealed class ScoringModels : IDisposable
{
    private volatile ServedModel? _current;

    public ServedModel? Current => _current;

    /// <summary>
    /// Starts serving <paramref name="model"/> and returns the one served before, which requests in flight may still be
    /// using: the caller disposes it once they have drained.
    /// </summary>
    public ServedModel? Set(ServedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Interlocked.Exchange(ref _current, model);
    }

    public void Dispose() => Interlocked.Exchange(ref _current, null)?.Dispose();
}

/// <summary>
/// Answers scoring requests: reads the body (JSON or CSV, bounded in size and time), checks it against the model's
/// inputs, scores the batch, writes the answer, records metrics and hands the rows to the prediction log when one is
/// registered. Bad input is a 400 naming the column and the row; any other failure a 500 naming the request id. Every
/// answer names the model and version (<c>X-Cairn-Model-Name</c>, <c>X-Cairn-Model-Version</c>) and the request id.
/// </summary>
internal sealed partial class ScoringService(ScoringModels models, IOptions<ScoringOptions> options, ILogger<ScoringService> logger, IPredictionLog? log = null)
{
    /// <summary>The suite requests are checked against, read once when the service is made; null: none.</summary>
    private readonly InputValidation? _validation = InputValidation.From(options.Value);

    public const string RequestIdHeader = "X-Request-Id";
    public const string ModelNameHeader = "X-Cairn-Model-Name";
    public const string ModelVersionHeader = "X-Cairn-Model-Version";

    /// <summary>Set to <c>failed</c> on the answer to a request that broke the input suite and was flagged, not rejected.</summary>
    public const string ValidationHeader = "X-Cairn-Validation";

    private static readonly JsonEncodedText s_predictions = JsonEncodedText.Encode("predictions");
    private static readonly JsonEncodedText s_modelName = JsonEncodedText.Encode("model_name");
    private static readonly JsonEncodedText s_modelVersion = JsonEncodedText.Encode("model_version");

    // One batcher per served model, made on its first request and gone with it.
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ServedModel, MicroBatcher> _batchers = [];

    public ScoringModels Models => models;

    public ScoringOptions Options => options.Value;

    /// <summary>The request's id: the caller's <c>X-Request-Id</c> when it is a safe token, else a new one; echoed in the answer.</summary>
    public static string AssignRequestId(HttpContext context)
    {
        var given = context.Request.Headers[RequestIdHeader].ToString();
        var id = IsSafeId(given) ? given : Guid.NewGuid().ToString("N");
        context.TraceIdentifier = id;
        context.Response.Headers[RequestIdHeader] = id;
        return id;
    }

    private static bool IsSafeId(string id)
    {
        if (id.Length is 0 or > 128) return false;
        foreach (var c in id)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')) return false;
        return true;
    }

    public static void NameModel(HttpContext context, ServedModel model)
    {
        context.Response.Headers[ModelNameHeader] = model.Name;
        context.Response.Headers[ModelVersionHeader] = model.VersionLabel;
    }

    /// <summary><c>POST /invocations</c>.</summary>
    public async Task InvocationsAsync(HttpContext context)
    {
        var requestId = AssignRequestId(context);
        if (models.Current is not { } model)
        {
            await MlflowExceptionHandler.WriteErrorAsync(context, 503, nameof(ErrorCode.TEMPORARILY_UNAVAILABLE), "The model is still loading; see /health/ready.", context.RequestAborted);
            return;
        }
        using var timeout = NewTimeout(context);
        await InvocationsAsync(context, requestId, model, model.Name, null, timeout);
    }

    /// <summary>A token that fires when the request is aborted or past the scoring timeout.</summary>
    public CancellationTokenSource NewTimeout(HttpContext context)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.RequestTimeoutSeconds));
        return timeout;
    }

    /// <summary>
    /// Reads the whole request body (within the scoring size limit) for a request that is scored more than once: a
    /// deployment's primary route, then its shadows, each parse it for their own model.
    /// </summary>
    public async Task<byte[]> ReadBodyAsync(HttpContext context, CancellationToken cancellationToken)
    {
        LimitBody(context);
        // The declared length sizes the buffer up to 1 MB: a header alone must not make the server allocate the whole limit.
        using var buffer = new MemoryStream(context.Request.ContentLength is > 0 and var length ? (int)Math.Min(length, 1 << 20) : 4096);
        await context.Request.Body.CopyToAsync(buffer, cancellationToken);
        if (buffer.Length > options.Value.MaxRequestBodyBytes) throw new BadHttpRequestException("Request body too large.", 413);
        return buffer.ToArray();
    }

    /// <summary>
    /// Answers one <c>/invocations</c> request with <paramref name="model"/> (the host's model, or the route a deployment
    /// picked): the body is read from the request when <paramref name="body"/> is null. The rows are logged under
    /// <paramref name="deployment"/> at <paramref name="logSampleRate"/> (null: the log's own rate); a JSON body may carry
    /// <paramref name="stickyField"/> beside its input. True when the model answered 200.
    /// </summary>
    internal async Task<bool> InvocationsAsync(HttpContext context, string requestId, ServedModel model, string deployment, byte[]? body, CancellationTokenSource timeout,
        string? stickyField = null, double? logSampleRate = null)
    {
        NameModel(context, model);
        var time = DateTimeOffset.UtcNow;
        var start = Stopwatch.GetTimestamp();
        var status = 200;
        try
        {
            if (body is null) LimitBody(context);
            ColumnBatch input;
            PredictionShape shape;
            var mediaType = MediaTypeOf(context.Request.ContentType);
            if (string.Equals(mediaType, "application/json", StringComparison.OrdinalIgnoreCase))
            {
                if (body is null)
                {
                    using var document = await JsonBody.ReadAsync(context.Request, timeout.Token);
                    (input, shape) = ScoringRequestParser.ParseJson(document.Root, model);
                }
                else
                {
                    using var document = JsonDocument.Parse(body);
                    (input, shape) = ScoringRequestParser.ParseJson(document.RootElement, model, stickyField);
                }
            }
            else if (string.Equals(mediaType, "text/csv", StringComparison.OrdinalIgnoreCase))
            {
                string text;
                if (body is null)
                {
                    using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
                    text = await reader.ReadToEndAsync(timeout.Token);
                }
                else text = Encoding.UTF8.GetString(body);
                input = ScoringRequestParser.ParseCsv(text, model);
                shape = PredictionShape.Records;
            }
            else
            {
                status = 415;
                ScoringMetrics.Errors.Add(1, ScoringMetrics.Tags(model, deployment, "mlflow", status));
                await MlflowExceptionHandler.WriteErrorAsync(context, 415, nameof(ErrorCode.BAD_REQUEST),
                    $"Unsupported content type '{context.Request.ContentType}': send application/json (dataframe_split, dataframe_records, instances or inputs) or text/csv.", context.RequestAborted);
                return false;
            }
            if (CheckInput(context, requestId, model, deployment, input) is { } rejected)
            {
                status = 400;
                ScoringMetrics.Errors.Add(1, ScoringMetrics.Tags(model, deployment, "mlflow", status));
                await MlflowExceptionHandler.WriteErrorAsync(context, 400, nameof(ErrorCode.BAD_REQUEST), rejected, context.RequestAborted);
                return false;
            }
            timeout.Token.ThrowIfCancellationRequested();
            var output = await ScoreAsync(model, input, timeout.Token);
            context.Response.ContentType = "application/json";
            WritePredictions(context.Response.BodyWriter, model, output, shape);
            await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
            var latency = Stopwatch.GetElapsedTime(start);
            ScoringMetrics.RecordBatch(model, deployment, output, output.RowCount);
            Log(requestId, model, deployment, time, latency, input, output, sampleRate: logSampleRate);
            return true;
        }
        catch (Exception e) when (!context.Response.HasStarted && Classify(e, context, timeout) is { } error)
        {
            status = error.Status;
            ScoringMetrics.Errors.Add(1, ScoringMetrics.Tags(model, deployment, "mlflow", status));
            await MlflowExceptionHandler.WriteErrorAsync(context, error.Status, error.Code, error.Message, context.RequestAborted);
            return false;
        }
        finally
        {
            ScoringMetrics.Requests.Add(1, ScoringMetrics.Tags(model, deployment, "mlflow", status));
            ScoringMetrics.Duration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, ScoringMetrics.Tags(model, deployment, "mlflow", status));
        }
    }

    /// <summary>
    /// Checks a request's rows against the serving suite, when there is one: returns the sentence to answer 400 with when the
    /// input fails and the suite rejects; a flagged request is counted, logged and marked (<see cref="ValidationHeader"/>) and
    /// goes on to be scored (null).
    /// </summary>
    internal string? CheckInput(HttpContext context, string requestId, ServedModel model, string deployment, ColumnBatch input)
    {
        if (_validation?.Check(input) is not { } invalid) return null;
        var message = _validation.Describe(invalid);
        ScoringMetrics.InvalidInputs.Add(1, ScoringMetrics.InvalidTags(model, deployment, _validation.Reject ? "reject" : "flag"));
        if (_validation.Reject) return message;
        LogFlagged(logger, requestId, message);
        context.Response.Headers[ValidationHeader] = "failed";
        return null;
    }

    /// <summary>The media type of a Content-Type header, or null.</summary>
    internal static string? MediaTypeOf(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.MediaType.Value : null;

    /// <summary>
    /// Scores a request's rows: within a micro-batch of concurrent requests when micro-batching is on and the request is
    /// smaller than a batch, else on its own (<see cref="Score"/>).
    /// </summary>
    public Task<ColumnBatch> ScoreAsync(ServedModel model, ColumnBatch input, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.MicroBatchMaxRows <= 0 || input.RowCount >= settings.MicroBatchMaxRows) return Task.FromResult(Score(model, input));
        var batcher = _batchers.GetValue(model, served => new MicroBatcher(served.Predict, settings.MicroBatchMaxRows,
            TimeSpan.FromTicks(settings.MicroBatchWaitMicroseconds * TimeSpan.TicksPerMicrosecond), settings.MicroBatchQueueLimit));
        return batcher.ScoreAsync(input, cancellationToken);
    }

    /// <summary>Scores <paramref name="input"/>, insisting that the model answers one row per row.</summary>
    public static ColumnBatch Score(ServedModel model, ColumnBatch input)
    {
        var output = model.Predict(input);
        if (output.RowCount != input.RowCount && output.ColumnCount > 0)
            throw new InvalidOperationException($"The model answered {output.RowCount} rows for {input.RowCount}.");
        return output;
    }

    /// <summary>
    /// Hands the request's rows to the prediction log, when one is registered; it never blocks. <paramref name="sampleRate"/>
    /// is the deployment's own share of requests to keep (null: the log's rate).
    /// </summary>
    public void Log(string requestId, ServedModel model, string deployment, DateTimeOffset time, TimeSpan latency, ColumnBatch input, ColumnBatch output,
        bool shadow = false, double? sampleRate = null)
    {
        if (log is null) return;
        try
        {
            log.TryAppend(new PredictionBatch(requestId, deployment, model.Version is null ? null : model.Name, model.Version, time,
                latency.TotalMilliseconds, output.RowCount, input.ToList(), output.ToList(), shadow, sampleRate));
        }
        catch (Exception e)
        {
            // The answer has gone out; a log that fails must not turn it into an error.
            LogFailed(logger, e, requestId);
        }
    }

    /// <summary>Applies the scoring body limit to this request (a host may have a different one for other routes).</summary>
    public void LimitBody(HttpContext context)
    {
        var limit = options.Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
            throw new BadHttpRequestException("Request body too large.", 413);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = limit;
    }

    /// <summary>The status, code and message of a failed request; null for an exception the host's handler should see.</summary>
    public (int Status, string Code, string Message)? Classify(Exception e, HttpContext context, CancellationTokenSource timeout)
    {
        switch (e)
        {
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                return (499, nameof(ErrorCode.BAD_REQUEST), "The client went away.");
            case OperationCanceledException when timeout.IsCancellationRequested:
                return (503, nameof(ErrorCode.TEMPORARILY_UNAVAILABLE),
                    $"The request took longer than the scoring timeout ({options.Value.RequestTimeoutSeconds:0.###} s) to read and score.");
            case BadHttpRequestException { StatusCode: 413 }:
                // The body is left unread: the connection closes after the answer, and says so, so no client reuses it.
                context.Response.Headers.Connection = "close";
                return (413, nameof(ErrorCode.REQUEST_LIMIT_EXCEEDED),
                    $"The request body is larger than the scoring limit of {options.Value.MaxRequestBodyBytes} bytes (--max-request-size).");
            case BadHttpRequestException bad:
                return (bad.StatusCode, nameof(ErrorCode.BAD_REQUEST), bad.Message);
            case JsonException json:
                return (400, nameof(ErrorCode.BAD_REQUEST), $"Invalid input: the body is not valid JSON ({json.Message}).");
            case CairnException { ErrorCode: ErrorCode.TEMPORARILY_UNAVAILABLE } busy:
                context.Response.Headers.RetryAfter = "1";
                return (503, nameof(ErrorCode.TEMPORARILY_UNAVAILABLE), busy.Message);
            case CairnException cairn when cairn.HttpStatus is >= 400 and < 500:
                // MLflow's scoring server answers every input error as BAD_REQUEST.
                return (400, nameof(ErrorCode.BAD_REQUEST), cairn.Message);
            default:
                LogScoringFailed(logger, e, context.Request.Path, context.TraceIdentifier);
                return (500, nameof(ErrorCode.INTERNAL_ERROR), $"Internal error while scoring (request {context.TraceIdentifier}); see the server log.");
        }
    }

    /// <summary>Writes <c>{"predictions": ..., "model_name": ..., "model_version": ...}</c>: records for a dataframe, a map of output name to values for tensors.</summary>
    internal static void WritePredictions(System.Buffers.IBufferWriter<byte> body, ServedModel model, ColumnBatch output, PredictionShape shape)
    {
        using var writer = new Utf8JsonWriter(body, new JsonWriterOptions { SkipValidation = true });
        writer.WriteStartObject();
        writer.WritePropertyName(s_predictions);
        var columns = output.Select(c => c.Value).ToArray();
        var names = output.Select(c => NameOf(model, c.Key)).ToArray();
        if (shape == PredictionShape.Records)
        {
            writer.WriteStartArray();
            for (var r = 0; r < output.RowCount; r++)
            {
                writer.WriteStartObject();
                for (var c = 0; c < columns.Length; c++)
                {
                    writer.WritePropertyName(names[c]);
                    WriteValue(writer, columns[c], r);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        else
        {
            writer.WriteStartObject();
            for (var c = 0; c < columns.Length; c++)
            {
                writer.WritePropertyName(names[c]);
                writer.WriteStartArray();
                for (var r = 0; r < columns[c].Length; r++) WriteValue(writer, columns[c], r);
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        // Which model answered, beside MLflow's one key (its clients read "predictions" and keep the rest).
        writer.WriteString(s_modelName, model.Name);
        writer.WriteString(s_modelVersion, model.VersionLabel);
        writer.WriteEndObject();
    }

    private static JsonEncodedText NameOf(ServedModel model, string name)
    {
        foreach (var encoded in model.OutputNames)
            if (encoded.Value == name) return encoded;
        return JsonEncodedText.Encode(name);
    }

    /// <summary>One value as JSON; NaN and infinities (which JSON lacks) as null.</summary>
    internal static void WriteValue(Utf8JsonWriter writer, Array column, int row)
    {
        switch (column)
        {
            case float[] f:
                WriteNumber(writer, f[row]);
                break;
            case double[] d:
                if (double.IsFinite(d[row])) writer.WriteNumberValue(d[row]);
                else writer.WriteNullValue();
                break;
            case long[] l:
                writer.WriteNumberValue(l[row]);
                break;
            case int[] i:
                writer.WriteNumberValue(i[row]);
                break;
            case bool[] b:
                writer.WriteBooleanValue(b[row]);
                break;
            case string?[] s:
                if (s[row] is { } text) writer.WriteStringValue(text);
                else writer.WriteNullValue();
                break;
            case float[][] fv:
                writer.WriteStartArray();
                foreach (var v in fv[row]) WriteNumber(writer, v);
                writer.WriteEndArray();
                break;
            case double[][] dv:
                writer.WriteStartArray();
                foreach (var v in dv[row])
                    if (double.IsFinite(v)) writer.WriteNumberValue(v);
                    else writer.WriteNullValue();
                writer.WriteEndArray();
                break;
            default:
                throw new InvalidOperationException($"Output type {column.GetType().Name} cannot be written.");
        }
    }

    private static void WriteNumber(Utf8JsonWriter writer, float value)
    {
        if (float.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }

    [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Scoring failed on {Path} (request {RequestId})")]
    private static partial void LogScoringFailed(ILogger logger, Exception exception, string path, string requestId);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "The prediction log refused request {RequestId}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string requestId);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Request {RequestId} was scored though its input failed validation: {Reason}")]
    private static partial void LogFlagged(ILogger logger, string requestId, string reason);
}
