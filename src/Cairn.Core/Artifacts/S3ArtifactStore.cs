using System.Buffers;
using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Cairn.Data.Remotes;

namespace Cairn.Artifacts;

/// <summary>
/// Artifacts in an S3-compatible bucket under <c>s3://bucket/prefix</c>. Directories are key prefixes ending in '/'.
/// Uploads stream: a body that fits in one part goes up with one PutObject, a longer one as a multipart upload of
/// <see cref="PartSize"/> parts, so at most one part is held in memory; an object appears only when complete.
/// </summary>
public sealed class S3ArtifactStore : IArtifactStore, IDisposable
{
    /// <summary>Default multipart part size (S3's minimum is 5 MiB; at most 10,000 parts).</summary>
    public const int DefaultPartSize = 8 << 20;

    private const int MaxParts = 10_000;
    private const int DeleteBatch = 1000;

    private readonly AmazonS3Client _s3;
    private readonly bool _chunkEncoding;

    /// <summary>Uses <paramref name="destination"/> (<c>s3://bucket/prefix</c>) reached through <paramref name="options"/>.</summary>
    public S3ArtifactStore(string destination, S3ConnectionOptions options, int partSize = DefaultPartSize)
    {
        ArgumentNullException.ThrowIfNull(options);
        var parsed = S3Connection.ParseUrl(destination)
            ?? throw new InvalidParameterValueException($"Invalid artifact destination '{destination}': use s3://bucket/prefix.");
        Bucket = parsed.Bucket;
        Prefix = ArtifactPath.Normalize(parsed.Prefix, "artifacts_destination");
        if (partSize < 5 << 20) throw new ArgumentOutOfRangeException(nameof(partSize), "S3 parts must be at least 5 MiB.");
        PartSize = partSize;
        _chunkEncoding = options.ChunkEncoding;
        _s3 = S3Connection.CreateClient(options);
    }

    /// <summary>The bucket.</summary>
    public string Bucket { get; }

    /// <summary>The normalized key prefix every artifact lives under ("" for the bucket's root).</summary>
    public string Prefix { get; }

    /// <summary>Size of multipart upload parts.</summary>
    public int PartSize { get; }

    /// <summary>The store's location, <c>s3://bucket/prefix</c>.</summary>
    public string Location => Prefix.Length == 0 ? $"s3://{Bucket}" : $"s3://{Bucket}/{Prefix}";

    private string KeyOf(string relative) => ArtifactPath.Join(Prefix, relative);

    /// <summary>The key prefix naming the contents of directory <paramref name="relative"/>.</summary>
    private string DirectoryPrefix(string relative)
    {
        var key = KeyOf(relative);
        return key.Length == 0 ? "" : key + "/";
    }

    public async Task<IReadOnlyList<ArtifactFileInfo>> ListAsync(string? path, CancellationToken cancellationToken = default)
    {
        var relative = ArtifactPath.Normalize(path);
        var prefix = DirectoryPrefix(relative);
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix.Length == 0 ? null : prefix, Delimiter = "/" };
        var entries = new List<ArtifactFileInfo>();
        do
        {
            var page = await CallAsync(() => _s3.ListObjectsV2Async(request, cancellationToken)).ConfigureAwait(false);
            foreach (var common in page.CommonPrefixes ?? [])
            {
                var name = common[prefix.Length..].TrimEnd('/');
                if (name.Length == 0 || !IsPlainName(name)) continue; // "a//b" keys cannot be named through ArtifactPath
                entries.Add(new ArtifactFileInfo(ArtifactPath.Join(relative, name), IsDir: true, FileSize: null));
            }
            foreach (var o in page.S3Objects ?? [])
            {
                var name = o.Key[prefix.Length..];
                if (name.Length == 0 || !IsPlainName(name)) continue; // a directory marker, or a key no path reaches
                entries.Add(new ArtifactFileInfo(ArtifactPath.Join(relative, name), IsDir: false, o.Size ?? 0));
            }
            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);
        entries.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return entries;
    }

    public async Task<Stream> OpenReadAsync(string path, CancellationToken cancellationToken = default)
    {
        var relative = RequireFilePath(path);
        GetObjectResponse response;
        try
        {
            response = await CallAsync(() => _s3.GetObjectAsync(Bucket, KeyOf(relative), cancellationToken)).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            if (await IsDirectoryAsync(relative, cancellationToken).ConfigureAwait(false))
                throw new InvalidParameterValueException($"Invalid value '{relative}' for parameter 'path': it is a directory; list it instead of downloading it.");
            throw new ResourceDoesNotExistException($"Artifact '{relative}' does not exist.");
        }
        return new ResponseStream(response);
    }

    public async Task<long> WriteAsync(string path, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var relative = RequireFilePath(path);
        if (await IsDirectoryAsync(relative, cancellationToken).ConfigureAwait(false))
            throw new InvalidParameterValueException($"Invalid value '{relative}' for parameter 'path': a directory of that name already exists.");
        var key = KeyOf(relative);
        var buffer = ArrayPool<byte>.Shared.Rent(PartSize);
        try
        {
            var read = await content.ReadAtLeastAsync(buffer.AsMemory(0, PartSize), PartSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < PartSize)
            {
                // The whole body fits in one part: one request, no multipart bookkeeping.
                using var ms = new MemoryStream(buffer, 0, read, writable: false);
                await CallAsync(() => S3Connection.PutAsync(_s3, Bucket, key, ms, _chunkEncoding, cancellationToken)).ConfigureAwait(false);
                return read;
            }
            return await WriteMultipartAsync(key, content, buffer, read, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<long> WriteMultipartAsync(string key, Stream content, byte[] buffer, int firstPart, CancellationToken ct)
    {
        var uploadId = (await CallAsync(() => _s3.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = Bucket, Key = key }, ct)).ConfigureAwait(false)).UploadId;
        try
        {
            var etags = new List<PartETag>();
            long written = 0;
            var read = firstPart;
            while (read > 0)
            {
                if (etags.Count == MaxParts)
                    throw new CairnException(ErrorCode.REQUEST_LIMIT_EXCEEDED,
                        $"The artifact is larger than an S3 upload of {MaxParts} parts of {PartSize} bytes can hold.");
                etags.Add(await S3Connection.UploadPartAsync(_s3, Bucket, key, uploadId, etags.Count + 1, buffer, read, _chunkEncoding, ct).ConfigureAwait(false));
                written += read;
                read = await content.ReadAtLeastAsync(buffer.AsMemory(0, PartSize), PartSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            }
            await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = Bucket, Key = key, UploadId = uploadId, PartETags = etags,
            }, ct).ConfigureAwait(false);
            return written;
        }
        catch
        {
            // The object never appears; drop the parts so they are not billed forever. Not cancellable: the caller may be gone.
            try
            {
                await _s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (AmazonServiceException)
            {
                // The original failure is the one worth reporting; a lifecycle rule can clean up what is left.
            }
            catch (HttpRequestException)
            {
            }
            throw;
        }
    }

    public async Task<bool> DeleteAsync(string path, CancellationToken cancellationToken = default)
    {
        var relative = RequireFilePath(path);
        return await DeleteUnderAsync(relative, cancellationToken).ConfigureAwait(false) > 0;
    }

    public Task<long> DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        var relative = ArtifactPath.Normalize(prefix, "prefix");
        if (relative.Length == 0)
            throw new InvalidParameterValueException("Invalid value '' for parameter 'prefix': refusing to delete the whole artifact root.");
        return DeleteUnderAsync(relative, cancellationToken);
    }

    /// <summary>Deletes the object <paramref name="relative"/> and every object under <c>relative/</c>; returns how many went.</summary>
    private async Task<long> DeleteUnderAsync(string relative, CancellationToken ct)
    {
        var key = KeyOf(relative);
        var dir = key + "/";
        // Listing by the bare key finds the file and the directory in one pass ("a/b" also lists "a/bc", skipped below).
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = key };
        var batch = new List<KeyVersion>(DeleteBatch);
        long deleted = 0;
        do
        {
            var page = await CallAsync(() => _s3.ListObjectsV2Async(request, ct)).ConfigureAwait(false);
            foreach (var o in page.S3Objects ?? [])
            {
                if (o.Key != key && !o.Key.StartsWith(dir, StringComparison.Ordinal)) continue;
                batch.Add(new KeyVersion { Key = o.Key });
                if (batch.Count == DeleteBatch) deleted += await DeleteBatchAsync(batch, ct).ConfigureAwait(false);
            }
            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);
        if (batch.Count > 0) deleted += await DeleteBatchAsync(batch, ct).ConfigureAwait(false);
        return deleted;
    }

    private async Task<long> DeleteBatchAsync(List<KeyVersion> batch, CancellationToken ct)
    {
        var response = await CallAsync(() => _s3.DeleteObjectsAsync(new DeleteObjectsRequest
        {
            BucketName = Bucket, Objects = [.. batch], Quiet = true,
        }, ct)).ConfigureAwait(false);
        var errors = response.DeleteErrors ?? [];
        if (errors.Count > 0)
            throw new CairnException(ErrorCode.INTERNAL_ERROR,
                $"Could not delete {errors.Count} artifact object(s) from {Location}, e.g. '{errors[0].Key}': {errors[0].Code} {errors[0].Message}");
        long count = batch.Count;
        batch.Clear();
        return count;
    }

    private async Task<bool> IsDirectoryAsync(string relative, CancellationToken ct)
    {
        var page = await CallAsync(() => _s3.ListObjectsV2Async(
            new ListObjectsV2Request { BucketName = Bucket, Prefix = DirectoryPrefix(relative), MaxKeys = 1 }, ct)).ConfigureAwait(false);
        return (page.S3Objects ?? []).Count > 0;
    }

    /// <summary>Creates the bucket if it does not exist (first-time set-up and tests).</summary>
    public Task EnsureBucketAsync(CancellationToken cancellationToken = default) =>
        S3Connection.EnsureBucketAsync(_s3, Bucket, cancellationToken);

    /// <summary>Runs an S3 call, turning a missing bucket into a message that names it.</summary>
    private async Task<T> CallAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
        {
            throw new CairnException(ErrorCode.INTERNAL_ERROR, $"The artifact bucket '{Bucket}' ({Location}) does not exist.", e);
        }
    }

    private async Task CallAsync(Func<Task> call) => await CallAsync(async () => { await call().ConfigureAwait(false); return 0; }).ConfigureAwait(false);

    /// <summary>A key segment that a normalized artifact path can name (no empty, ".", ".." or backslash segments).</summary>
    private static bool IsPlainName(string name)
    {
        foreach (var segment in name.Split('/'))
            if (segment.Length == 0 || segment is "." or ".." || segment.Contains('\\')) return false;
        return true;
    }

    private static string RequireFilePath(string path)
    {
        var relative = ArtifactPath.Normalize(path);
        return relative.Length == 0
            ? throw new InvalidParameterValueException("Missing value for required parameter 'path': an artifact path is needed, not the root.")
            : relative;
    }

    public void Dispose() => _s3.Dispose();

    /// <summary>The object's body; disposing it releases the HTTP response too.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _inner = response.ResponseStream;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => _inner.Read(buffer);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _inner.ReadAsync(buffer, cancellationToken);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) response.Dispose();
            base.Dispose(disposing);
        }
    }
}
