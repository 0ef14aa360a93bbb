using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using Cairn.Diagnostics;

namespace Cairn.Server.Diagnostics;

/// <summary>
/// Times every call the server makes into a store interface (<c>ITrackingStore</c>, <c>IRegistryStore</c>, <c>IArtifactStore</c>): one span and one
/// <c>cairn.store.operation.duration</c> measurement per call, tagged with the operation and, on failure, the error. A proxy
/// rather than edits in each store, so SQLite, PostgreSQL and any later backend are measured the same way.
/// </summary>
internal class StoreInstrumentation : DispatchProxy
{
    private static readonly ConcurrentDictionary<MethodInfo, string> s_operations = new();

    private object _inner = null!; // set by Wrap before the proxy is handed out

    /// <summary>A proxy of <paramref name="inner"/> that measures each call.</summary>
    public static T Wrap<T>(T inner) where T : class
    {
        var proxy = Create<T, StoreInstrumentation>();
        ((StoreInstrumentation)(object)proxy)._inner = inner;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        // The host that opened the store disposes it, once; a container disposing this proxy must not do it again.
        if (targetMethod.Name == nameof(IDisposable.Dispose) && targetMethod.DeclaringType == typeof(IDisposable)) return null;
        // Property getters and the like are not store operations.
        if (targetMethod.IsSpecialName) return targetMethod.Invoke(_inner, BindingFlags.DoNotWrapExceptions, binder: null, args, culture: null);
        var operation = s_operations.GetOrAdd(targetMethod, static m => m.Name.EndsWith("Async", StringComparison.Ordinal) ? m.Name[..^5] : m.Name);
        var parent = Activity.Current;
        var activity = CairnTelemetry.ActivitySource.StartActivity("store " + operation, ActivityKind.Internal);
        activity?.SetTag(CairnTelemetry.OperationTag, operation);
        var started = Stopwatch.GetTimestamp();
        object? result;
        try
        {
            result = targetMethod.Invoke(_inner, BindingFlags.DoNotWrapExceptions, binder: null, args, culture: null);
        }
        catch (Exception e)
        {
            Complete(operation, started, activity, e);
            throw;
        }
        finally
        {
            // Invoke is synchronous: without this the caller would go on with the store's span as its current one.
            Activity.Current = parent;
        }

        if (result is Task { IsCompleted: false } task)
        {
            task.ContinueWith(static (t, state) =>
            {
                var (operation, started, activity) = ((string, long, Activity?))state!;
                Complete(operation, started, activity, t.Exception?.GetBaseException() ?? (t.IsCanceled ? new OperationCanceledException() : null));
            }, (operation, started, activity), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else
        {
            Complete(operation, started, activity, (result as Task)?.Exception?.GetBaseException());
        }
        return result;
    }

    private static void Complete(string operation, long started, Activity? activity, Exception? error)
    {
        var tags = new TagList { { CairnTelemetry.OperationTag, operation } };
        if (error is not null)
        {
            // MLflow's error code says more than the exception type (RESOURCE_DOES_NOT_EXIST is a normal answer).
            var type = error is CairnException c ? c.ErrorCode.ToString() : error.GetType().FullName;
            tags.Add(CairnTelemetry.ErrorTypeTag, type);
            activity?.SetTag(CairnTelemetry.ErrorTypeTag, type);
            activity?.SetStatus(ActivityStatusCode.Error, error.Message);
        }
        CairnTelemetry.StoreOperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        activity?.Dispose();
    }
}
