using System.Text.Json;
using Cairn.Data;
using Cairn.ML.Models;

namespace Cairn.Server.Scoring;

/// <summary>How the answer is shaped: a dataframe's rows as records, or tensors as a map of output name to values.</summary>
public enum PredictionShape
{
    /// <summary><c>dataframe_split</c>, <c>dataframe_records</c>, CSV: <c>{"predictions": [{"out": v, ...}, ...]}</c>.</summary>
    Records,

    /// <summary><c>instances</c>, <c>inputs</c>: <c>{"predictions": {"out": [v, ...], ...}}</c>, as MLflow answers for tensors.</summary>
    Tensors,
}

/// <summary>
/// Reads MLflow scoring requests (<c>POST /invocations</c>) into a <see cref="ColumnBatch"/> of the model's inputs, as
/// MLflow 2.x's pyfunc scoring server accepts them: a JSON object with exactly one of <c>dataframe_split</c>
/// (<c>{"columns": [...], "data": [[...]]}</c>), <c>dataframe_records</c> (<c>[{"col": v}, ...]</c>), <c>instances</c> or
/// <c>inputs</c> (a list of rows, a list of records, or a map of name to values), optionally with <c>params</c>; or a CSV
/// body with a header line. A dataframe feeds a model whose signature is one 2-D tensor column by column, in the order
/// the request gives its columns; columns the model does not read are ignored.
/// </summary>
internal static class ScoringRequestParser
{
    private static readonly string[] s_fields = ["dataframe_split", "dataframe_records", "instances", "inputs"];

    /// <param name="root">The request body.</param>
    /// <param name="model">The model whose inputs the body must provide.</param>
    /// <param name="stickyField">A deployment's sticky key field, allowed beside the input field (it picks the route, the model never sees it).</param>
    public static (ColumnBatch Batch, PredictionShape Shape) ParseJson(JsonElement root, ServedModel model, string? stickyField = null)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new ScoringInputException($"Invalid input. The request body must be a JSON object with exactly one of the fields {string.Join(", ", s_fields)}; got {ScoringInputException.Show(root)}.");
        string? field = null;
        JsonElement body = default;
        var found = new List<string>();
        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("params") || stickyField is not null && property.NameEquals(stickyField)) continue;
            found.Add(property.Name);
            if (s_fields.Contains(property.Name))
            {
                if (field is not null) field = "";
                else
                {
                    field = property.Name;
                    body = property.Value;
                }
            }
        }
        if (string.IsNullOrEmpty(field) || found.Count != 1)
            throw new ScoringInputException(
                $"Invalid input. The request body must be a JSON object with exactly one of the fields {string.Join(", ", s_fields)} (and optionally 'params'); got the fields [{string.Join(", ", found)}].");
        return field switch
        {
            "dataframe_split" => (Split(body, model), PredictionShape.Records),
            "dataframe_records" => (Records(body, model, "dataframe_records"), PredictionShape.Records),
            _ => (Tensors(body, model, field), PredictionShape.Tensors),
        };
    }

    private static ColumnBatch Split(JsonElement split, ServedModel model)
    {
        if (split.ValueKind != JsonValueKind.Object)
            throw new ScoringInputException($"Invalid input: 'dataframe_split' must be an object with 'columns' and 'data'; got {ScoringInputException.Show(split)}.");
        if (!split.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            throw new ScoringInputException("Invalid input: 'dataframe_split' needs 'data', a list of rows (lists of values).");
        string[] columns;
        if (split.TryGetProperty("columns", out var names) && names.ValueKind == JsonValueKind.Array)
        {
            columns = new string[names.GetArrayLength()];
            var i = 0;
            foreach (var name in names.EnumerateArray())
                columns[i++] = name.ValueKind == JsonValueKind.String ? name.GetString()! : name.GetRawText();
        }
        else if (model.Tensor is not null)
        {
            // Without names the values are positional, which is all a single tensor needs.
            var width = data.GetArrayLength() > 0 && data[0].ValueKind == JsonValueKind.Array ? data[0].GetArrayLength() : 0;
            columns = Enumerable.Range(0, width).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        else throw new ScoringInputException($"Invalid input: 'dataframe_split' needs 'columns', the column names ({string.Join(", ", model.Inputs.Select(i => i.Name))}).");

        var rows = data.GetArrayLength();
        var plan = Plan.ForColumns(model, columns, rows);
        var r = 0;
        foreach (var row in data.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != columns.Length)
                throw new ScoringInputException($"Invalid input at row {r} of 'dataframe_split': expected a list of {columns.Length} values (one per column), got {ScoringInputException.Show(row)}" +
                                                (row.ValueKind == JsonValueKind.Array ? $" of {row.GetArrayLength()} values." : "."));
            var c = 0;
            foreach (var value in row.EnumerateArray())
            {
                plan.Set(r, c, value);
                c++;
            }
            r++;
        }
        return plan.Finish(rows);
    }

    private static ColumnBatch Records(JsonElement records, ServedModel model, string field)
    {
        if (records.ValueKind != JsonValueKind.Array)
            throw new ScoringInputException($"Invalid input: '{field}' must be a list of records ({{\"column\": value}}); got {ScoringInputException.Show(records)}.");
        var rows = records.GetArrayLength();
        string[] columns = rows == 0 ? model.Inputs.Select(i => i.Name).ToArray()
            : records[0].ValueKind == JsonValueKind.Object ? records[0].EnumerateObject().Select(p => p.Name).ToArray()
            : throw new ScoringInputException($"Invalid input at row 0 of '{field}': expected a record ({{\"column\": value}}), got {ScoringInputException.Show(records[0])}.");
        var plan = Plan.ForColumns(model, columns, rows);
        var utf8 = columns.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
        var seen = new bool[columns.Length];
        var r = 0;
        foreach (var record in records.EnumerateArray())
        {
            if (record.ValueKind != JsonValueKind.Object)
                throw new ScoringInputException($"Invalid input at row {r} of '{field}': expected a record ({{\"column\": value}}), got {ScoringInputException.Show(record)}.");
            Array.Clear(seen);
            var position = 0;
            foreach (var property in record.EnumerateObject())
            {
                // Records almost always repeat the first one's order: try the same position first.
                var c = position < utf8.Length && property.NameEquals(utf8[position]) ? position : Find(utf8, property);
                position++;
                if (c < 0 || seen[c]) continue;
                seen[c] = true;
                plan.Set(r, c, property.Value);
            }
            plan.CheckRecord(r, seen);
            r++;
        }
        return plan.Finish(rows);
    }

    private static int Find(byte[][] names, JsonProperty property)
    {
        for (var i = 0; i < names.Length; i++)
            if (property.NameEquals(names[i])) return i;
        return -1;
    }

    /// <summary><c>instances</c> or <c>inputs</c>: rows (lists), records (objects), scalars (one input), or a map of name to values.</summary>
    private static ColumnBatch Tensors(JsonElement body, ServedModel model, string field)
    {
        if (body.ValueKind == JsonValueKind.Object)
        {
            var builders = model.Inputs.Select(i => (Input: i, Values: body.TryGetProperty(i.Name, out var v) ? v : default)).ToList();
            if (builders.FirstOrDefault(b => b.Values.ValueKind == JsonValueKind.Undefined) is { Input: { } missing })
                throw new ScoringInputException($"Invalid input: '{field}' has no '{missing.Name}', an input of the model (it needs: {string.Join(", ", model.Inputs.Select(i => i.Name))}).");
            var batch = new ColumnBatch();
            var rows = -1;
            foreach (var (input, values) in builders)
            {
                if (values.ValueKind != JsonValueKind.Array)
                    throw new ScoringInputException($"Invalid input: '{field}.{input.Name}' must be a list with one value per row; got {ScoringInputException.Show(values)}.");
                var n = values.GetArrayLength();
                if (rows >= 0 && n != rows)
                    throw new ScoringInputException($"Invalid input: '{field}.{input.Name}' has {n} rows but the inputs before it have {rows}.");
                rows = n;
                var builder = ColumnBuilder.For(input, n);
                var r = 0;
                foreach (var value in values.EnumerateArray())
                {
                    if (input.IsTensor) SetTensorRow(builder, r, value, input.Name);
                    else builder.Set(r, 0, value, input.Name);
                    r++;
                }
                batch.Add(input.Name, builder.Finish(n));
            }
            return batch;
        }
        if (body.ValueKind != JsonValueKind.Array)
            throw new ScoringInputException($"Invalid input: '{field}' must be a list of rows or a map of input name to values; got {ScoringInputException.Show(body)}.");
        var count = body.GetArrayLength();
        var first = count == 0 ? default : body[0];
        if (first.ValueKind == JsonValueKind.Object) return Records(body, model, field);
        if (first.ValueKind == JsonValueKind.Array)
        {
            // Rows of values: the single tensor's rows, or the model's columns in signature order.
            if (model.Tensor is { } tensor)
            {
                var builder = ColumnBuilder.For(tensor, count);
                var r = 0;
                foreach (var row in body.EnumerateArray()) SetTensorRow(builder, r++, row, tensor.Name);
                return new ColumnBatch().Add(tensor.Name, builder.Finish(count));
            }
            var columns = model.Inputs.Select(i => i.Name).ToArray();
            var plan = Plan.ForColumns(model, columns, count);
            var index = 0;
            foreach (var row in body.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != columns.Length)
                    throw new ScoringInputException($"Invalid input at row {index} of '{field}': expected a list of {columns.Length} values ({string.Join(", ", columns)}), got {ScoringInputException.Show(row)}.");
                var c = 0;
                foreach (var value in row.EnumerateArray()) plan.Set(index, c++, value);
                index++;
            }
            return plan.Finish(count);
        }
        // A list of scalars: one value per row of the model's only input.
        if (model.Inputs is not [{ IsTensor: false } only])
            throw new ScoringInputException($"Invalid input: '{field}' is a list of single values, but the model takes {model.Inputs.Count} inputs ({string.Join(", ", model.Inputs.Select(i => i.Name))}): send rows (lists) or records.");
        var single = ColumnBuilder.For(only, count);
        var i2 = 0;
        foreach (var value in body.EnumerateArray()) single.Set(i2++, 0, value, only.Name);
        return new ColumnBatch().Add(only.Name, single.Finish(count));
    }

    private static void SetTensorRow(ColumnBuilder builder, int row, JsonElement value, string name)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw ScoringInputException.Value(name, row, $"expected a list of {Width(builder.Input)} values, got {ScoringInputException.Show(value)}");
        var length = value.GetArrayLength();
        builder.OpenWidth(length);
        if (length != builder.Width)
            throw ScoringInputException.Value(name, row, $"expected a list of {builder.Width} values, got {length}");
        var c = 0;
        foreach (var item in value.EnumerateArray()) builder.Set(row, c++, item, name);
    }

    private static string Width(ScoringInput input) => input.Width >= 0 ? input.Width.ToString(System.Globalization.CultureInfo.InvariantCulture) : "the same number of";

    /// <summary>Reads a CSV body (a header line, then one line per row) as a dataframe.</summary>
    public static ColumnBatch ParseCsv(string text, ServedModel model)
    {
        using var csv = CsvReader.OpenText(text, "The CSV body");
        if (!csv.Read()) throw new ScoringInputException("Invalid input: the CSV body is empty; it needs a header line naming the columns.");
        var columns = csv.Record().Select((c, i) => c ?? $"column {i}").ToArray();
        var plan = Plan.ForColumns(model, columns, 64);
        var rows = 0;
        while (csv.Read())
        {
            if (csv.FieldCount != columns.Length)
                throw new ScoringInputException($"Invalid input at row {rows} of the CSV body (line {csv.Line}): {csv.FieldCount} fields, but the header names {columns.Length} columns.");
            plan.Reserve(rows + 1);
            for (var c = 0; c < columns.Length; c++)
                if (plan.Reads(c)) plan.Set(rows, c, csv.Field(c), csv.IsMissing(c));
            rows++;
        }
        return plan.Finish(rows);
    }

    /// <summary>
    /// Where each of a dataframe's columns goes: a model column of the same name, or (for a single-tensor model) position
    /// <c>c</c> of every row's vector. A model column the dataframe lacks is an error naming it.
    /// </summary>
    private sealed class Plan
    {
        private readonly string[] _columns;
        private readonly ColumnBuilder?[] _targets;
        private readonly int[] _positions;
        private readonly ColumnBuilder[] _builders;

        private Plan(string[] columns, ColumnBuilder?[] targets, int[] positions, ColumnBuilder[] builders)
        {
            _columns = columns;
            _targets = targets;
            _positions = positions;
            _builders = builders;
        }

        public static Plan ForColumns(ServedModel model, string[] columns, int rows)
        {
            var targets = new ColumnBuilder?[columns.Length];
            var positions = new int[columns.Length];
            if (model.Tensor is { } tensor)
            {
                if (tensor.Width >= 0 && columns.Length != tensor.Width)
                    throw new ScoringInputException($"Invalid input: the model's input '{tensor.Name}' is a tensor of {tensor.Width} values per row, fed by the dataframe's columns in order; the request has {columns.Length} columns ({Names(columns)}).");
                var builder = ColumnBuilder.For(tensor, rows);
                builder.OpenWidth(columns.Length);
                for (var c = 0; c < columns.Length; c++)
                {
                    targets[c] = builder;
                    positions[c] = c;
                }
                return new Plan(columns, targets, positions, [builder]);
            }
            var builders = new List<ColumnBuilder>();
            foreach (var input in model.Inputs)
            {
                var index = Array.IndexOf(columns, input.Name);
                if (index < 0)
                    throw new ScoringInputException($"Invalid input: missing column '{input.Name}' ({input.TypeName}), which the model needs; the request has {Names(columns)}.");
                if (input.IsTensor)
                    throw new ScoringInputException($"Invalid input: the model's input '{input.Name}' is a tensor; send it with 'inputs' or 'instances'.");
                var builder = ColumnBuilder.For(input, rows);
                targets[index] = builder;
                builders.Add(builder);
            }
            return new Plan(columns, targets, positions, builders.ToArray());
        }

        private static string Names(string[] columns) =>
            columns.Length == 0 ? "no columns" : columns.Length <= 30 ? string.Join(", ", columns) : string.Join(", ", columns.Take(30)) + ", ...";

        public bool Reads(int column) => _targets[column] is not null;

        public void Set(int row, int column, JsonElement value) => _targets[column]?.Set(row, _positions[column], value, _columns[column]);

        public void Set(int row, int column, ReadOnlySpan<char> text, bool missing) => _targets[column]!.Set(row, _positions[column], text, missing, _columns[column]);

        public void Reserve(int rows)
        {
            foreach (var builder in _builders) builder.Reserve(rows);
        }

        /// <summary>A record lacking a column the model reads is an error naming the column and the row.</summary>
        public void CheckRecord(int row, bool[] seen)
        {
            for (var c = 0; c < _targets.Length; c++)
                if (_targets[c] is not null && !seen[c])
                    throw ScoringInputException.Value(_columns[c], row, "missing: the record has no such key");
        }

        public ColumnBatch Finish(int rows)
        {
            var batch = new ColumnBatch();
            foreach (var builder in _builders) batch.Add(builder.Input.Name, builder.Finish(rows));
            return batch;
        }
    }
}
