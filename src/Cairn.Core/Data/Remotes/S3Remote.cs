using System.Net;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;

namespace Cairn.Data.Remotes;

/// <summary>
/// A remote in an S3-compatible bucket (AWS, MinIO, s3rver…): <c>s3://bucket/prefix</c>, with endpoint,
/// region and path-style options. Large objects go up as a manual multipart upload (TransferUtility cannot
/// turn chunked encoding off), and an interrupted multipart upload is resumed: parts whose MD5 matches are kept.
/// </summary>
public sealed class S3Remote : IDataRemote
{
    /// <summary>Objects above this size are uploaded in parts.</summary>
    public const long MultipartThreshold = 64L << 20;
    private const long MinPartSize = 8L << 20;

    private readonly AmazonS3Client _s3;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly bool _chunkEncoding;

    /// <summary>Creates the client from a remote's configuration.</summary>
    public S3Remote(string name, RemoteConfig config)
    {
        Name = name;
        var parsed = S3Connection.ParseUrl(config.Url)
            ?? throw new InvalidParameterValueException($"remote '{name}': url '{config.Url}' has no bucket (use s3://bucket/prefix)");
        (_bucket, _prefix) = parsed;
        _chunkEncoding = config.ChunkEncoding ?? true;
        _s3 = S3Connection.CreateClient(new S3ConnectionOptions
        {
            Endpoint = config.Endpoint,
            Region = config.Region,
            PathStyle = config.PathStyle,
            ChunkEncoding = _chunkEncoding,
            AccessKeyId = config.AccessKeyId,
            SecretAccessKey = config.SecretAccessKey,
        });
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string Location => $"s3://{_bucket}/{_prefix}";

    private string KeyOf(string digest) => (_prefix.Length == 0 ? "" : _prefix + "/") + digest[..2] + "/" + digest[2..];

    /// <inheritdoc/>
    public async Task<Dictionary<string, long>> StatAsync(IReadOnlyCollection<string> digests, CancellationToken cancellationToken = default)
    {
        var found = new Dictionary<string, long>(StringComparer.Ordinal);
        if (digests.Count == 0) return found;
        var wanted = digests.ToHashSet(StringComparer.Ordinal);
        // One listing of the prefix beats thousands of HEAD requests.
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix.Length == 0 ? null : _prefix + "/" };
        do
        {
            ListObjectsV2Response page;
            try
            {
                page = await _s3.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ResourceDoesNotExistException($"remote '{Name}': bucket '{_bucket}' does not exist");
            }
            foreach (var o in page.S3Objects ?? [])
            {
                string rest = _prefix.Length == 0 ? o.Key : o.Key[(_prefix.Length + 1)..];
                if (rest.Length == 65 && rest[2] == '/')
                {
                    string d = string.Concat(rest.AsSpan(0, 2), rest.AsSpan(3));
                    if (wanted.Contains(d)) found[d] = o.Size ?? -1;
                }
            }
            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (request.ContinuationToken is not null);
        return found;
    }

    /// <inheritdoc/>
    public async Task UploadAsync(string digest, string localPath, IProgress<long>? bytes, CancellationToken cancellationToken = default)
    {
        long size = new FileInfo(localPath).Length;
        string key = KeyOf(digest);
        if (size <= MultipartThreshold)
        {
            await using var fs = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            await S3Connection.PutAsync(_s3, _bucket, KeyOf(digest), fs, _chunkEncoding, cancellationToken).ConfigureAwait(false);
            bytes?.Report(size);
            return;
        }
        await UploadMultipartAsync(key, localPath, size, bytes, cancellationToken).ConfigureAwait(false);
    }

    private async Task UploadMultipartAsync(string key, string localPath, long size, IProgress<long>? bytes, CancellationToken ct)
    {
        long partSize = Math.Max(MinPartSize, (size + 9_999) / 10_000);
        int parts = (int)((size + partSize - 1) / partSize);
        var (uploadId, existing) = await FindResumableUploadAsync(key, ct).ConfigureAwait(false);
        uploadId ??= (await _s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key }, ct)
            .ConfigureAwait(false)).UploadId;
        var etags = new List<PartETag>(parts);
        await using var fs = new FileStream(localPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous);
        var buffer = new byte[partSize];
        for (int p = 1; p <= parts; p++)
        {
            long offset = (p - 1) * partSize;
            int len = (int)Math.Min(partSize, size - offset);
            fs.Position = offset;
            await fs.ReadExactlyAsync(buffer.AsMemory(0, len), ct).ConfigureAwait(false);
            if (existing.TryGetValue(p, out var part) && part.Size == len
                && part.ETag.Trim('"') == Convert.ToHexStringLower(MD5.HashData(buffer.AsSpan(0, len))))
            {
                etags.Add(new PartETag(p, part.ETag)); // uploaded before the interruption
                bytes?.Report(len);
                continue;
            }
            etags.Add(await S3Connection.UploadPartAsync(_s3, _bucket, key, uploadId, p, buffer, len, _chunkEncoding, ct).ConfigureAwait(false));
            bytes?.Report(len);
        }
        await _s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = _bucket, Key = key, UploadId = uploadId, PartETags = etags,
        }, ct).ConfigureAwait(false);
    }

    private readonly record struct ExistingPart(long Size, string ETag);

    private async Task<(string? UploadId, Dictionary<int, ExistingPart> Parts)> FindResumableUploadAsync(string key, CancellationToken ct)
    {
        var parts = new Dictionary<int, ExistingPart>();
        try
        {
            var uploads = await _s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = _bucket, Prefix = key }, ct).ConfigureAwait(false);
            var upload = (uploads.MultipartUploads ?? []).Where(u => u.Key == key).OrderByDescending(u => u.Initiated).FirstOrDefault();
            if (upload is null) return (null, parts);
            var listed = await _s3.ListPartsAsync(new ListPartsRequest { BucketName = _bucket, Key = key, UploadId = upload.UploadId }, ct).ConfigureAwait(false);
            foreach (var p in listed.Parts ?? []) parts[p.PartNumber ?? 0] = new ExistingPart(p.Size ?? -1, p.ETag ?? "");
            return (upload.UploadId, parts);
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
        {
            return (null, parts); // the server cannot list uploads: start afresh
        }
    }

    /// <inheritdoc/>
    public async Task DownloadAsync(string digest, Stream destination, IProgress<long>? bytes, CancellationToken cancellationToken = default)
    {
        GetObjectResponse response;
        try
        {
            response = await _s3.GetObjectAsync(_bucket, KeyOf(digest), cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ResourceDoesNotExistException($"object {digest[..12]} is not on remote '{Name}' ({Location})");
        }
        using (response)
        {
            await StreamCopy.CopyAsync(response.ResponseStream, destination, bytes, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Creates the bucket if it does not exist (used by tests and first-time set-up).</summary>
    public async Task EnsureBucketAsync(CancellationToken cancellationToken = default)
    {
        await S3Connection.EnsureBucketAsync(_s3, _bucket, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose() => _s3.Dispose();
}
