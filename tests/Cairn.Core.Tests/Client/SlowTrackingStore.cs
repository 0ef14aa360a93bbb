using System.Reflection;
using Cairn.Tracking;

namespace Cairn.Tests.Client;

/// <summary>
/// A real tracking store whose writes (log-batch and log-inputs) are slowed by <see cref="Delay"/>: every call is forwarded to
/// the store it wraps, so a producer can outrun it. Counts the write calls it forwarded. Once disposed it disposes the
/// store it wraps and refuses every call with <see cref="ObjectDisposedException"/>, as a disposed HTTP client does.
/// </summary>
public class SlowTrackingStore : DispatchProxy
{
    private ITrackingStore _inner = null!; // set by Wrap before any call
    private int _writes;
    private int _disposed;

    /// <summary>How long each write waits before it reaches the real store.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Write calls forwarded so far.</summary>
    public int Writes => Volatile.Read(ref _writes);

    public static (ITrackingStore Store, SlowTrackingStore Control) Wrap(ITrackingStore inner, TimeSpan delay)
    {
        var store = Create<ITrackingStore, SlowTrackingStore>();
        var control = (SlowTrackingStore)(object)store;
        control._inner = inner;
        control.Delay = delay;
        return (store, control);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.Name == nameof(IDisposable.Dispose))
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) _inner.Dispose();
            return null;
        }
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, typeof(ITrackingStore));
        if (targetMethod.Name is nameof(ITrackingStore.LogBatchAsync) or nameof(ITrackingStore.LogInputsAsync))
        {
            Interlocked.Increment(ref _writes);
            return DelayedAsync(targetMethod, args);
        }
        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    private async Task DelayedAsync(MethodInfo method, object?[]? args)
    {
        await Task.Delay(Delay);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, typeof(ITrackingStore));
        Task write;
        try
        {
            write = (Task)method.Invoke(_inner, args)!; // both writes return Task
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        await write;
    }
}
