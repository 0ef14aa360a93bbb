using System.Buffers.Text;
using System.Data.Common;
using System.Globalization;
using System.Text;
using Cairn.Serving;
using Dapper;

namespace Cairn.Storage;

/// <summary>
/// The prediction log in the tracking database (migration 7). Scored rows are stored as columnar blocks
/// (<c>prediction_blocks</c>): one row per group of requests of one deployment, model version and route within one minute,
/// holding each input and output column as one array (<see cref="PredictionColumnCodec"/>), indexed by
/// (deployment, start time). A window read touches one index range and decodes whole columns; a block never spans a minute
/// boundary, so windows aligned on minutes need no per-row filtering. <c>prediction_requests</c> maps a request id to its
/// block for feedback; <c>prediction_feedback</c> holds ground truth by request and row with the prediction time, so the
/// monitoring work joins predictions and truth window by window.
/// </summary>
internal sealed class SqlPredictionStore(SqlDatabase database) : IPredictionStore
{
    /// <summary>A block never holds rows of two minutes (so a block's span is under a minute).</summary>
    public const long BlockSpanMs = 60_000;

    /// <summary>Requests are merged into one block up to this many rows; a bigger request is a block of its own.</summary>
    public const int MaxBlockRows = 65_536;

    /// <summary>The most rows one page of a window read may ask for.</summary>
    public const int MaxPageRows = 100_000;

    private const int RequestRowsPerInsert = 100;

    public SqlDatabase Database { get; } = database;

    private sealed class BlockRow
    {
        public long BlockId { get; set; }
        public string Deployment { get; set; } = "";
        public string? ModelName { get; set; }
        public string? ModelVersion { get; set; }
        public int Shadow { get; set; }
        public long StartMs { get; set; }
        public long EndMs { get; set; }
        public int RowCount { get; set; }
        public byte[] Requests { get; set; } = [];
        public byte[] Inputs { get; set; } = [];
        public byte[] Outputs { get; set; } = [];
    }

    // ---- Writes ---------------------------------------------------------------------------------

    public Task AppendAsync(IReadOnlyList<PredictionBatch> batches, CancellationToken cancellationToken = default)
    {
        foreach (var batch in batches) Validate(batch);
        if (batches.Count == 0) return Task.CompletedTask;
        var blocks = Group(batches);
        return Database.WriteAsync(async (c, tx) =>
        {
            foreach (var block in blocks) await InsertBlockAsync(c, tx, block, cancellationToken).ConfigureAwait(false);
            return 0;
        }, cancellationToken);
    }

    /// <summary>Checks what the log is given: names, a row count that every column agrees with, and storable column types.</summary>
    public static void Validate(PredictionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (string.IsNullOrEmpty(batch.RequestId)) throw new InvalidParameterValueException("A prediction batch needs a request_id.");
        if (string.IsNullOrEmpty(batch.Deployment)) throw new InvalidParameterValueException("A prediction batch needs a deployment.");
        if (batch.Rows < 0) throw new InvalidParameterValueException($"A prediction batch has {batch.Rows} rows; it must be 0 or more.");
        foreach (var (name, values) in batch.Inputs) PredictionColumnCodec.Validate("inputs", name, values, batch.Rows);
        foreach (var (name, values) in batch.Outputs) PredictionColumnCodec.Validate("outputs", name, values, batch.Rows);
    }

    private sealed class Block(PredictionBatch first)
    {
        public PredictionBatch First { get; } = first;
        public List<PredictionBatch> Batches { get; } = [];
        public int Rows { get; set; }
    }

    /// <summary>What the requests of one block share: route, minute and column layouts.</summary>
    private readonly record struct BlockKey(string Deployment, string? ModelName, string? ModelVersion, bool Shadow, long Minute, ulong Inputs, ulong Outputs);

    private static List<Block> Group(IReadOnlyList<PredictionBatch> batches)
    {
        var open = new Dictionary<BlockKey, Block>();
        var blocks = new List<Block>();
        foreach (var batch in batches)
        {
            var timeMs = batch.Time.ToUnixTimeMilliseconds();
            var key = new BlockKey(batch.Deployment, batch.ModelName, batch.ModelVersion, batch.Shadow, (long)Math.Floor(timeMs / (double)BlockSpanMs),
                PredictionColumnCodec.LayoutHash(batch.Inputs), PredictionColumnCodec.LayoutHash(batch.Outputs));
            if (!open.TryGetValue(key, out var block) || (block.Rows > 0 && block.Rows + batch.Rows > MaxBlockRows))
            {
                block = new Block(batch);
                open[key] = block;
                blocks.Add(block);
            }
            block.Batches.Add(batch);
            block.Rows += batch.Rows;
        }
        return blocks;
    }

    private async Task InsertBlockAsync(DbConnection c, DbTransaction tx, Block block, CancellationToken cancellationToken)
    {
        var batches = block.Batches;
        var requestIds = new string?[batches.Count];
        var rowStarts = new int[batches.Count];
        var rowCounts = new int[batches.Count];
        var times = new long[batches.Count];
        var latencies = new double[batches.Count];
        var at = 0;
        for (var i = 0; i < batches.Count; i++)
        {
            requestIds[i] = batches[i].RequestId;
            rowStarts[i] = at;
            rowCounts[i] = batches[i].Rows;
            times[i] = batches[i].Time.ToUnixTimeMilliseconds();
            latencies[i] = batches[i].LatencyMs;
            at += batches[i].Rows;
        }
        var requests = PredictionColumnCodec.Encode(
        [
            new("request_id", requestIds), new("row_start", rowStarts), new("rows", rowCounts), new("time_ms", times), new("latency_ms", latencies),
        ], batches.Count);
        var rowsPerBatch = rowCounts;
        var inputs = PredictionColumnCodec.EncodeConcatenated(batches.Select(b => b.Inputs).ToList(), rowsPerBatch);
        var outputs = PredictionColumnCodec.EncodeConcatenated(batches.Select(b => b.Outputs).ToList(), rowsPerBatch);
        var first = block.First;
        var blockId = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            INSERT INTO prediction_blocks (deployment, model_name, model_version, shadow, start_ms, end_ms, row_count, request_count, requests, inputs, outputs)
            VALUES (@deployment, @modelName, @modelVersion, @shadow, @start, @end, @rows, @requestCount, @requests, @inputs, @outputs)
            RETURNING block_id
            """,
            new
            {
                deployment = first.Deployment, modelName = first.ModelName, modelVersion = first.ModelVersion, shadow = first.Shadow ? 1 : 0,
                start = times.Min(), end = times.Max(), rows = at, requestCount = batches.Count, requests, inputs, outputs,
            }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);

        if (c is Microsoft.Data.Sqlite.SqliteConnection sqlite)
        {
            // SQLite runs in-process: one prepared statement executed per request is its fastest bulk insert.
            await using var insert = sqlite.CreateCommand();
            insert.Transaction = (Microsoft.Data.Sqlite.SqliteTransaction)tx;
            insert.CommandText = """
                INSERT INTO prediction_requests (deployment, request_id, shadow, block_id, row_start, row_count, time_ms)
                VALUES ($deployment, $request, $shadow, $block, $start, $count, $time)
                ON CONFLICT (deployment, request_id, shadow) DO NOTHING
                """;
            insert.Parameters.AddWithValue("$deployment", first.Deployment);
            insert.Parameters.AddWithValue("$shadow", first.Shadow ? 1 : 0);
            insert.Parameters.AddWithValue("$block", blockId);
            var request = insert.Parameters.Add("$request", Microsoft.Data.Sqlite.SqliteType.Text);
            var start = insert.Parameters.Add("$start", Microsoft.Data.Sqlite.SqliteType.Integer);
            var count = insert.Parameters.Add("$count", Microsoft.Data.Sqlite.SqliteType.Integer);
            var time = insert.Parameters.Add("$time", Microsoft.Data.Sqlite.SqliteType.Integer);
            insert.Prepare();
            for (var k = 0; k < batches.Count; k++)
            {
                request.Value = requestIds[k];
                start.Value = rowStarts[k];
                count.Value = rowCounts[k];
                time.Value = times[k];
                insert.ExecuteNonQuery(); // in-process and in the writer's transaction: no I/O wait to overlap
            }
            return;
        }
        // Over the network: many rows per statement (a parameter per value stays far below the provider's limit).
        for (var offset = 0; offset < batches.Count; offset += RequestRowsPerInsert)
        {
            var count = Math.Min(RequestRowsPerInsert, batches.Count - offset);
            var sql = new StringBuilder(
                "INSERT INTO prediction_requests (deployment, request_id, shadow, block_id, row_start, row_count, time_ms) VALUES ");
            var args = new DynamicParameters(new { deployment = first.Deployment, shadow = first.Shadow ? 1 : 0, blockId });
            for (var i = 0; i < count; i++)
            {
                var k = offset + i;
                if (i > 0) sql.Append(',');
                sql.Append(CultureInfo.InvariantCulture, $"(@deployment, @r{i}, @shadow, @blockId, @s{i}, @n{i}, @t{i})");
                args.Add($"r{i}", requestIds[k]);
                args.Add($"s{i}", rowStarts[k]);
                args.Add($"n{i}", rowCounts[k]);
                args.Add($"t{i}", times[k]);
            }
            // A request id logged twice on one route (a client retrying with its own id) keeps its first rows.
            sql.Append(" ON CONFLICT (deployment, request_id, shadow) DO NOTHING");
            await c.ExecuteAsync(new CommandDefinition(sql.ToString(), args, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
    }

    // ---- Window reads ---------------------------------------------------------------------------

    /// <summary>
    /// One page of the rows of <paramref name="deployment"/> (optionally one model version) whose request arrived in
    /// [<paramref name="start"/>, <paramref name="end"/>), in time order, at most <paramref name="maxRows"/> rows; pass the
    /// page's <see cref="PredictionPage.NextPageToken"/> to read on.
    /// </summary>
    public async Task<PredictionPage> ReadPageAsync(string deployment, string? modelVersion, DateTimeOffset start, DateTimeOffset end, int maxRows,
        string? pageToken = null, CancellationToken cancellationToken = default)
    {
        if (maxRows is < 1 or > MaxPageRows)
            throw new InvalidParameterValueException($"max_rows must be between 1 and {MaxPageRows}; it was {maxRows}.");
        var startMs = start.ToUnixTimeMilliseconds();
        var endMs = end.ToUnixTimeMilliseconds();
        if (endMs <= startMs) throw new InvalidParameterValueException("end must be after start.");
        var fingerprint = $"{deployment}\u0001{modelVersion}\u0001{startMs}\u0001{endMs}";
        var (afterStart, afterBlock, skipRows) = DecodeToken(pageToken, fingerprint);

        var parts = new List<PredictionRows>();
        var taken = 0;
        // Blocks overlapping the window start at or after the window's first minute (a block lies within one minute).
        var fromMs = Math.Max(afterStart, (long)Math.Floor(startMs / (double)BlockSpanMs) * BlockSpanMs);
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var rows = (await c.QueryAsync<BlockRow>(new CommandDefinition(
                $"""
                SELECT block_id AS BlockId, deployment AS Deployment, model_name AS ModelName, model_version AS ModelVersion, shadow AS Shadow,
                       start_ms AS StartMs, end_ms AS EndMs, row_count AS RowCount, requests AS Requests, inputs AS Inputs, outputs AS Outputs
                FROM prediction_blocks
                WHERE deployment = @deployment AND start_ms >= @fromMs AND start_ms < @endMs AND end_ms >= @startMs
                  AND (start_ms > @afterStart OR (start_ms = @afterStart AND block_id >= @afterBlock))
                  {(modelVersion is null ? "" : "AND model_version = @modelVersion")}
                ORDER BY start_ms, block_id
                LIMIT 16
                """,
                new { deployment, fromMs, endMs, startMs, afterStart, afterBlock, modelVersion }, cancellationToken: cancellationToken)).ConfigureAwait(false)).ToList();
            if (rows.Count == 0) return new PredictionPage(parts, null);
            foreach (var block in rows)
            {
                var decoded = DecodeBlock(block, startMs, endMs);
                var remaining = maxRows - taken;
                if (skipRows > 0 || decoded.Count - skipRows > remaining)
                {
                    var length = Math.Min(decoded.Count - skipRows, remaining);
                    var slice = Slice(decoded, skipRows, length);
                    if (slice.Count > 0) parts.Add(slice);
                    taken += slice.Count;
                    if (skipRows + length < decoded.Count)
                        return new PredictionPage(parts, EncodeToken(block.StartMs, block.BlockId, skipRows + length, fingerprint));
                    skipRows = 0;
                }
                else
                {
                    if (decoded.Count > 0) parts.Add(decoded);
                    taken += decoded.Count;
                }
                afterStart = block.StartMs;
                afterBlock = block.BlockId + 1;
                if (taken >= maxRows) return new PredictionPage(parts, EncodeToken(afterStart, afterBlock, 0, fingerprint));
            }
        }
    }

    /// <summary>Every row of the window, page by page (each page at most <paramref name="pageRows"/> rows in memory).</summary>
    public async IAsyncEnumerable<PredictionRows> ReadAsync(string deployment, string? modelVersion, DateTimeOffset start, DateTimeOffset end,
        int pageRows = 10_000, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? token = null;
        do
        {
            var page = await ReadPageAsync(deployment, modelVersion, start, end, pageRows, token, cancellationToken).ConfigureAwait(false);
            foreach (var rows in page.Rows) yield return rows;
            token = page.NextPageToken;
        } while (token is not null);
    }

    private static PredictionRows DecodeBlock(BlockRow block, long startMs, long endMs)
    {
        var meta = PredictionColumnCodec.Decode(block.Requests);
        var requestIds = (string?[])meta[0].Value;
        var rowStarts = (int[])meta[1].Value;
        var rowCounts = (int[])meta[2].Value;
        var times = (long[])meta[3].Value;
        var latencies = (double[])meta[4].Value;
        var ids = new string[block.RowCount];
        var rowIndexes = new int[block.RowCount];
        var rowTimes = new long[block.RowCount];
        var rowLatency = new double[block.RowCount];
        var inside = 0;
        for (var r = 0; r < requestIds.Length; r++)
        {
            var from = rowStarts[r];
            for (var i = 0; i < rowCounts[r]; i++)
            {
                ids[from + i] = requestIds[r] ?? "";
                rowIndexes[from + i] = i;
                rowTimes[from + i] = times[r];
                rowLatency[from + i] = latencies[r];
            }
            if (times[r] >= startMs && times[r] < endMs) inside += rowCounts[r];
        }
        var all = new PredictionRows(block.Deployment, block.ModelName, block.ModelVersion, block.Shadow != 0, ids, rowIndexes, rowTimes, rowLatency,
            PredictionColumnCodec.Decode(block.Inputs), PredictionColumnCodec.Decode(block.Outputs));
        if (inside == block.RowCount) return all;
        // A block at the window's edge: keep the rows whose request is inside.
        var keep = new int[inside];
        var k = 0;
        for (var i = 0; i < rowTimes.Length; i++)
            if (rowTimes[i] >= startMs && rowTimes[i] < endMs) keep[k++] = i;
        return Select(all, keep);
    }

    private static PredictionRows Slice(PredictionRows rows, int from, int length) =>
        from == 0 && length == rows.Count ? rows : Select(rows, Enumerable.Range(from, length).ToArray());

    private static PredictionRows Select(PredictionRows rows, int[] keep)
    {
        static T[] Pick<T>(T[] values, int[] keep)
        {
            var picked = new T[keep.Length];
            for (var i = 0; i < keep.Length; i++) picked[i] = values[keep[i]];
            return picked;
        }
        static List<KeyValuePair<string, Array>> PickColumns(IReadOnlyList<KeyValuePair<string, Array>> columns, int[] keep) =>
            columns.Select(col =>
            {
                var picked = Array.CreateInstance(col.Value.GetType().GetElementType()!, keep.Length);
                for (var i = 0; i < keep.Length; i++) picked.SetValue(col.Value.GetValue(keep[i]), i);
                return new KeyValuePair<string, Array>(col.Key, picked);
            }).ToList();
        return rows with
        {
            RequestIds = Pick(rows.RequestIds, keep),
            RowIndexes = Pick(rows.RowIndexes, keep),
            TimesMs = Pick(rows.TimesMs, keep),
            LatencyMs = Pick(rows.LatencyMs, keep),
            Inputs = PickColumns(rows.Inputs, keep),
            Outputs = PickColumns(rows.Outputs, keep),
        };
    }

    private static string EncodeToken(long startMs, long blockId, int skipRows, string fingerprint) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{startMs}:{blockId}:{skipRows}:{Fingerprint(fingerprint)}")));

    private static (long StartMs, long BlockId, int SkipRows) DecodeToken(string? token, string fingerprint)
    {
        if (string.IsNullOrEmpty(token)) return (long.MinValue, 0, 0);
        string[] parts;
        try
        {
            parts = token.Length > PageToken.MaxLength ? [] : Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token)).Split(':');
        }
        catch (FormatException)
        {
            parts = [];
        }
        if (parts.Length != 4 || !long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var startMs)
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var blockId)
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var skip))
            throw new InvalidParameterValueException($"Invalid page_token '{(token.Length <= 60 ? token : token[..60] + "...")}': it is not a token this server issued.");
        if (parts[3] != Fingerprint(fingerprint))
            throw new InvalidParameterValueException("Invalid page_token: it belongs to a different query (deployment, model_version, start or end changed).");
        return (startMs, blockId, skip);
    }

    private static string Fingerprint(string query)
    {
        var hash = 14695981039346656037UL;
        foreach (var ch in query) { hash ^= ch; hash *= 1099511628211UL; }
        return hash.ToString("x16", CultureInfo.InvariantCulture);
    }

    // ---- Requests and feedback ------------------------------------------------------------------

    /// <summary>The logged (primary-route) request, or its shadow's when only a shadow logged it; null when the log has no such request.</summary>
    public async Task<PredictionRequestInfo?> FindRequestAsync(string deployment, string requestId, CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var row = await c.QueryFirstOrDefaultAsync<(int RowCount, long TimeMs)?>(new CommandDefinition(
            "SELECT row_count, time_ms FROM prediction_requests WHERE deployment = @deployment AND request_id = @requestId ORDER BY shadow LIMIT 1",
            new { deployment, requestId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row is { } r ? new PredictionRequestInfo(deployment, requestId, r.RowCount, r.TimeMs) : null;
    }

    /// <summary>
    /// Records ground truth for a logged request: with <paramref name="row"/> null, <paramref name="valuesJson"/> holds one JSON
    /// value per row of the request; with a row, the values of the rows from that one on. Recording a row again replaces its
    /// value. RESOURCE_DOES_NOT_EXIST when the log has no such request; INVALID_PARAMETER_VALUE when the rows do not fit.
    /// </summary>
    public Task<PredictionRequestInfo> RecordFeedbackAsync(string deployment, string requestId, int? row, IReadOnlyList<string> valuesJson,
        CancellationToken cancellationToken = default) =>
        Database.WriteAsync(async (c, tx) =>
        {
            var found = await c.QueryFirstOrDefaultAsync<(int RowCount, long TimeMs)?>(new CommandDefinition(
                "SELECT row_count, time_ms FROM prediction_requests WHERE deployment = @deployment AND request_id = @requestId ORDER BY shadow LIMIT 1",
                new { deployment, requestId }, tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (found is not { } request)
                throw new ResourceDoesNotExistException($"No logged prediction with request_id={requestId} in deployment {deployment}.");
            if (row is null && valuesJson.Count != request.RowCount)
                throw new InvalidParameterValueException($"ground_truth has {valuesJson.Count} values; request {requestId} has {request.RowCount} rows.");
            var firstRow = row ?? 0;
            if (firstRow < 0 || firstRow >= request.RowCount)
                throw new InvalidParameterValueException($"row {firstRow} is out of range: request {requestId} has {request.RowCount} rows (0 to {request.RowCount - 1}).");
            if (firstRow + valuesJson.Count > request.RowCount)
                throw new InvalidParameterValueException(
                    $"ground_truth has {valuesJson.Count} values from row {firstRow}; request {requestId} has {request.RowCount} rows.");
            var recorded = Database.NowMs();
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO prediction_feedback (deployment, request_id, row_index, time_ms, value, recorded_ms)
                VALUES (@deployment, @requestId, @row, @time, @value, @recorded)
                ON CONFLICT (deployment, request_id, row_index) DO UPDATE SET value = excluded.value, recorded_ms = excluded.recorded_ms
                """,
                valuesJson.Select((value, i) => new { deployment, requestId, row = firstRow + i, time = request.TimeMs, value, recorded }),
                tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return new PredictionRequestInfo(deployment, requestId, request.RowCount, request.TimeMs);
        }, cancellationToken);

    /// <summary>The ground truth recorded for predictions of <paramref name="deployment"/> made in [start, end), by time then request and row.</summary>
    public async Task<IReadOnlyList<PredictionFeedback>> ReadFeedbackAsync(string deployment, DateTimeOffset start, DateTimeOffset end,
        CancellationToken cancellationToken = default)
    {
        await using var c = await Database.OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = await c.QueryAsync<(string RequestId, int Row, long TimeMs, string Value, long RecordedMs)>(new CommandDefinition(
            """
            SELECT request_id, row_index, time_ms, value, recorded_ms FROM prediction_feedback
            WHERE deployment = @deployment AND time_ms >= @start AND time_ms < @end ORDER BY time_ms, request_id, row_index
            """,
            new { deployment, start = start.ToUnixTimeMilliseconds(), end = end.ToUnixTimeMilliseconds() }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.Select(r => new PredictionFeedback(r.RequestId, r.Row, r.TimeMs, r.Value, r.RecordedMs)).ToList();
    }

    // ---- Retention ------------------------------------------------------------------------------

    /// <summary>
    /// Deletes whole blocks whose newest row is older than <paramref name="olderThan"/>, then the oldest blocks beyond
    /// <paramref name="maxRows"/> rows, with their request index and the ground truth of predictions older than what is left.
    /// Returns the number of prediction rows deleted.
    /// </summary>
    public Task<long> PruneAsync(DateTimeOffset? olderThan, long? maxRows, CancellationToken cancellationToken = default)
    {
        if (maxRows is < 0) throw new InvalidParameterValueException($"The prediction log's max rows must be 0 or more; it was {maxRows}.");
        return Database.WriteAsync(async (c, tx) =>
        {
            long deleted = 0;
            if (olderThan is { } age)
            {
                var cutoff = age.ToUnixTimeMilliseconds();
                deleted += await DeleteBlocksAsync(c, tx, "end_ms < @cutoff", new { cutoff }, cancellationToken).ConfigureAwait(false);
                await c.ExecuteAsync(new CommandDefinition("DELETE FROM prediction_feedback WHERE time_ms < @cutoff", new { cutoff }, tx,
                    cancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            if (maxRows is { } max)
            {
                // The newest blocks that fit in max rows stay; the newest block past them is the first to go.
                var total = await c.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT SUM(row_count) FROM prediction_blocks", transaction: tx,
                    cancellationToken: cancellationToken)).ConfigureAwait(false) ?? 0;
                if (total > max)
                {
                    var kept = 0L;
                    long? firstGone = null;
                    var blocks = await c.QueryAsync<(long BlockId, int RowCount)>(new CommandDefinition(
                        "SELECT block_id, row_count FROM prediction_blocks ORDER BY block_id DESC", transaction: tx,
                        cancellationToken: cancellationToken)).ConfigureAwait(false);
                    foreach (var (blockId, rowCount) in blocks)
                    {
                        if (kept + rowCount > max) { firstGone = blockId; break; }
                        kept += rowCount;
                    }
                    if (firstGone is { } gone)
                    {
                        deleted += await DeleteBlocksAsync(c, tx, "block_id <= @gone", new { gone }, cancellationToken).ConfigureAwait(false);
                        await c.ExecuteAsync(new CommandDefinition(
                            """
                            DELETE FROM prediction_feedback WHERE NOT EXISTS (SELECT 1 FROM prediction_requests r
                                WHERE r.deployment = prediction_feedback.deployment AND r.request_id = prediction_feedback.request_id)
                            """, transaction: tx, cancellationToken: cancellationToken)).ConfigureAwait(false);
                    }
                }
            }
            return deleted;
        }, cancellationToken);
    }

    private static async Task<long> DeleteBlocksAsync(DbConnection c, DbTransaction tx, string where, object args, CancellationToken cancellationToken)
    {
        var rows = await c.ExecuteScalarAsync<long?>(new CommandDefinition($"SELECT SUM(row_count) FROM prediction_blocks WHERE {where}", args, tx,
            cancellationToken: cancellationToken)).ConfigureAwait(false) ?? 0;
        // The request index goes first, by block (its own index), rather than through the cascade one row at a time.
        await c.ExecuteAsync(new CommandDefinition(
            $"DELETE FROM prediction_requests WHERE block_id IN (SELECT block_id FROM prediction_blocks WHERE {where})", args, tx,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        await c.ExecuteAsync(new CommandDefinition($"DELETE FROM prediction_blocks WHERE {where}", args, tx, cancellationToken: cancellationToken))
            .ConfigureAwait(false);
        return rows;
    }
}
