using Spectre.Console;

namespace Cairn.Cli;

/// <summary>
/// A live progress bar for long work (data add/checkout, artifacts download, gc), drawn only when the console is an
/// interactive terminal; piped or captured output gets the command's usual lines and no bar (as <c>cairn train</c> does).
/// </summary>
internal static class CliProgress
{
    /// <summary>
    /// Runs <paramref name="body"/> under a bar labelled <paramref name="label"/> in a terminal; elsewhere, or when
    /// <paramref name="enabled"/> is false (JSON output), <paramref name="body"/> gets null and runs as it is.
    /// </summary>
    public static async Task<T> RunAsync<T>(CliContext ctx, string label, Func<Bar?, Task<T>> body, bool enabled = true)
    {
        if (!enabled || !ctx.Console.Profile.Capabilities.Interactive) return await body(null);
        var result = default(T)!; // assigned inside StartAsync before it returns
        await ctx.Console.Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var bar = new Bar(ctx.Console, context.AddTask(Markup.Escape(label), maxValue: 1));
                result = await body(bar);
                bar.Finish();
            });
        return result;
    }

    /// <summary>The bar of one piece of work; thread-safe (Spectre's tasks lock their own state).</summary>
    public sealed class Bar(IAnsiConsole console, ProgressTask task)
    {
        /// <summary>How much work there is, once known; until then the bar is indeterminate.</summary>
        public void Start(double total)
        {
            task.MaxValue = Math.Max(1, total);
            task.IsIndeterminate = false;
        }

        /// <summary>Marks work of unknown size: the bar pulses and the label counts.</summary>
        public void Indeterminate() => task.IsIndeterminate = true;

        public void Advance(double amount = 1) => task.Increment(amount);

        /// <summary>Replaces the label, e.g. with a count of files done.</summary>
        public void Describe(string text) => task.Description = Markup.Escape(text);

        /// <summary>A line printed above the live bar.</summary>
        public void WriteLine(string line) => console.WriteLine(line);

        /// <summary>Reports bytes done, e.g. for <c>DataAddOptions.Progress</c>.</summary>
        public IProgress<long> Bytes() => new Sink(this);

        internal void Finish()
        {
            task.IsIndeterminate = false;
            task.Value = task.MaxValue;
        }

        /// <summary>Advances synchronously on the reporting thread (<see cref="Progress{T}"/> would post, and could lag the result).</summary>
        private sealed class Sink(Bar bar) : IProgress<long>
        {
            public void Report(long value) => bar.Advance(value);
        }
    }
}
