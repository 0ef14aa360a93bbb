using Cairn.Client;

namespace Cairn.Tests.Training;

/// <summary>A temp folder with an embedded tracking store in it, fresh for each test, for tests that train and log.</summary>
public abstract class StoreTests : IDisposable
{
    protected StoreTests() => Client = CairnClient.Open(Dir.Combine("store"));

    protected TempDirectory Dir { get; } = new();

    protected CairnClient Client { get; }

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        Client.Dispose();
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }
}
