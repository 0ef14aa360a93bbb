using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Cairn.Data;
using Cairn.Data.Remotes;
using Xunit;

namespace Cairn.Tests.Data;

/// <summary>The behaviour every remote must have; one subclass per backend.</summary>
public abstract class RemoteContractTests : IDisposable
{
    protected readonly TempDir Dir = new();
    protected CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Dir.Dispose();

    /// <summary>A fresh, empty remote.</summary>
    protected abstract IDataRemote CreateRemote();

    /// <summary>Overwrites an object on the remote with other bytes (bit rot, tampering).</summary>
    protected abstract Task CorruptAsync(string digest, byte[] content);

    private DataRepository Repo(string folder) => DataRepository.Open(Directory.CreateDirectory(Dir[folder]).FullName);

    private static List<CacheRoot> Roots(DataRepository repo) => repo.PointerRoots().ToList();

    private async Task<DataRepository> SourceRepoAsync(int files = 12)
    {
        for (int i = 0; i < files; i++) Dir.WriteBytes($"src/data/raw/f{i:00}.bin", RandomNumberGenerator.GetBytes(1000 + i));
        Dir.Write("src/model.txt", "model weights");
        var repo = Repo("src");
        await repo.AddAsync(Dir["src/data/raw"], cancellationToken: Ct);
        await repo.AddAsync(Dir["src/model.txt"], cancellationToken: Ct);
        return repo;
    }

    /// <summary>A second clone of the source: same pointer files, its own empty cache, no data.</summary>
    private DataRepository Clone()
    {
        Directory.CreateDirectory(Dir["dst/data"]);
        File.Copy(Dir["src/data/raw.cairn"], Dir["dst/data/raw.cairn"]);
        File.Copy(Dir["src/model.txt.cairn"], Dir["dst/model.txt.cairn"]);
        return Repo("dst");
    }

    [Fact]
    public async Task Push_then_pull_into_a_fresh_clone_restores_identical_data()
    {
        var src = await SourceRepoAsync();
        using var remote = CreateRemote();
        var pushed = await new DataTransfer(src, remote).PushAsync(Roots(src), cancellationToken: Ct);
        Assert.Equal(14, pushed.Transferred); // 12 files + manifest + model

        var dst = Clone();
        var fetched = await new DataTransfer(dst, remote).FetchAsync(Roots(dst), cancellationToken: Ct);
        Assert.Equal(14, fetched.Transferred);
        await dst.CheckoutAsync(cancellationToken: Ct);

        for (int i = 0; i < 12; i++) Assert.Equal(File.ReadAllBytes(Dir[$"src/data/raw/f{i:00}.bin"]), File.ReadAllBytes(Dir[$"dst/data/raw/f{i:00}.bin"]));
        Assert.Equal("model weights", Dir.Read("dst/model.txt"));
    }

    [Fact]
    public async Task Second_push_and_fetch_skip_what_is_already_there()
    {
        var src = await SourceRepoAsync();
        using var remote = CreateRemote();
        await new DataTransfer(src, remote).PushAsync(Roots(src), cancellationToken: Ct);
        var again = await new DataTransfer(src, remote).PushAsync(Roots(src), cancellationToken: Ct);
        Assert.Equal(new TransferResult(0, 14, 0), again);
        var fetch = await new DataTransfer(src, remote).FetchAsync(Roots(src), cancellationToken: Ct);
        Assert.Equal(0, fetch.Transferred);
    }

    [Fact]
    public async Task An_interrupted_push_resumes_with_only_the_missing_objects()
    {
        var src = await SourceRepoAsync(files: 40);
        using var remote = CreateRemote();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var stopAfter5 = new CountingProgress(5, cts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => new DataTransfer(src, remote, jobs: 2).PushAsync(Roots(src), progress: stopAfter5, cancellationToken: cts.Token));

        var resumed = await new DataTransfer(src, remote).PushAsync(Roots(src), cancellationToken: Ct);
        Assert.InRange(resumed.Skipped, 5, 41);
        Assert.Equal(42, resumed.Transferred + resumed.Skipped);

        var dst = Clone();
        await new DataTransfer(dst, remote).FetchAsync(Roots(dst), cancellationToken: Ct);
        await dst.CheckoutAsync(cancellationToken: Ct);
        Assert.Equal(40, Directory.GetFiles(Dir["dst/data/raw"]).Length);
    }

    [Fact]
    public async Task Fetch_refuses_a_corrupted_remote_object_and_keeps_the_cache_clean()
    {
        var src = await SourceRepoAsync(files: 2);
        using var remote = CreateRemote();
        await new DataTransfer(src, remote).PushAsync(Roots(src), cancellationToken: Ct);
        string digest = DataPointer.Load(Dir["src/model.txt.cairn"]).Digest;
        await CorruptAsync(digest, "model weightz"u8.ToArray());

        var dst = Clone();
        var e = await Assert.ThrowsAsync<CairnException>(() => new DataTransfer(dst, remote).FetchAsync(Roots(dst), cancellationToken: Ct));
        Assert.Equal(ErrorCode.INVALID_STATE, e.ErrorCode);
        Assert.Contains($"object {digest[..12]} on remote", e.Message);
        Assert.Contains("corrupted", e.Message);
        Assert.False(dst.Cache.Contains(digest));
        Assert.Empty(Directory.EnumerateFiles(dst.Cache.TempDir));
        Assert.True(dst.Cache.Contains(DataPointer.Load(Dir["src/data/raw.cairn"]).Digest)); // the others still came
    }

    [Fact]
    public async Task Push_sends_again_an_object_left_truncated_on_the_remote()
    {
        var src = await SourceRepoAsync(files: 1);
        using var remote = CreateRemote();
        await new DataTransfer(src, remote).PushAsync(Roots(src), cancellationToken: Ct);
        string digest = DataPointer.Load(Dir["src/model.txt.cairn"]).Digest;
        await CorruptAsync(digest, "model"u8.ToArray()); // what a cut-off upload leaves behind

        var again = await new DataTransfer(src, remote).PushAsync(Roots(src), cancellationToken: Ct);
        Assert.Equal(1, again.Transferred);
        var dst = Clone();
        await new DataTransfer(dst, remote).FetchAsync(Roots(dst), cancellationToken: Ct);
        await dst.CheckoutAsync(cancellationToken: Ct);
        Assert.Equal("model weights", Dir.Read("dst/model.txt"));
    }

    [Fact]
    public async Task Fetching_data_the_remote_lacks_names_the_object()
    {
        await SourceRepoAsync(files: 1);
        using var remote = CreateRemote();
        var dst = Clone();
        var e = await Assert.ThrowsAnyAsync<CairnException>(() => new DataTransfer(dst, remote).FetchAsync(Roots(dst), cancellationToken: Ct));
        Assert.Contains("is not on remote", e.Message);
    }

    private sealed class CountingProgress(int cancelAfter, CancellationTokenSource cts) : ITransferProgress
    {
        private int _done;
        public void Started(int files, long bytes) { }
        public void Advance(long bytes) { }
        public void FileCompleted()
        {
            if (Interlocked.Increment(ref _done) == cancelAfter) cts.Cancel();
        }
    }
}

public sealed class FolderRemoteTests : RemoteContractTests
{
    protected override IDataRemote CreateRemote() => new FolderRemote("shared", Dir["remote"]);

    protected override Task CorruptAsync(string digest, byte[] content)
    {
        File.WriteAllBytes(Path.Combine(Dir["remote"], digest[..2], digest[2..]), content);
        return Task.CompletedTask;
    }
}

public sealed class S3RemoteTests(S3rverFixture s3) : RemoteContractTests, IClassFixture<S3rverFixture>
{
    private readonly string _bucket = "cairn-" + Guid.NewGuid().ToString("N")[..10];

    private RemoteConfig Config => new()
    {
        Url = $"s3://{_bucket}/team/data",
        Endpoint = s3.Endpoint,
        PathStyle = true,
        ChunkEncoding = false, // s3rver stores aws-chunked framing verbatim
        AccessKeyId = "S3RVER",
        SecretAccessKey = "S3RVER",
    };

    protected override IDataRemote CreateRemote()
    {
        if (s3.SkipReason is not null) Assert.Skip(s3.SkipReason);
        var remote = new S3Remote("s3", Config);
        remote.EnsureBucketAsync(Ct).GetAwaiter().GetResult();
        return remote;
    }

    private AmazonS3Client Client() => new(new BasicAWSCredentials("S3RVER", "S3RVER"),
        new AmazonS3Config { ServiceURL = s3.Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });

    protected override async Task CorruptAsync(string digest, byte[] content)
    {
        using var c = Client();
        await c.PutObjectAsync(new PutObjectRequest
        {
            BucketName = _bucket, Key = $"team/data/{digest[..2]}/{digest[2..]}",
            InputStream = new MemoryStream(content), UseChunkEncoding = false,
        }, Ct);
    }

    [Fact]
    public async Task A_large_object_goes_up_in_parts_and_comes_back_byte_exact()
    {
        var big = new byte[S3Remote.MultipartThreshold + 3_000_017];
        new Random(7).NextBytes(big);
        Dir.WriteBytes("src/big.bin", big);
        var src = DataRepository.Open(Dir["src"]);
        await src.AddAsync(Dir["src/big.bin"], cancellationToken: Ct);
        using var remote = CreateRemote();
        var pushed = await new DataTransfer(src, remote).PushAsync(src.PointerRoots().ToList(), cancellationToken: Ct);
        Assert.Equal(big.Length, pushed.Bytes);

        Directory.CreateDirectory(Dir["dst"]);
        File.Copy(Dir["src/big.bin.cairn"], Dir["dst/big.bin.cairn"]);
        var dst = DataRepository.Open(Dir["dst"]);
        await new DataTransfer(dst, remote).FetchAsync(dst.PointerRoots().ToList(), cancellationToken: Ct);
        await dst.CheckoutAsync(cancellationToken: Ct);
        Assert.Equal(SHA256.HashData(big), SHA256.HashData(File.ReadAllBytes(Dir["dst/big.bin"])));
    }
}
