using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Cairn.Data.Remotes;

/// <summary>
/// How to reach an S3-compatible service (AWS, MinIO, s3rver…). Shared by the data remotes and the artifact store.
/// Core never reads the environment: callers build this (see <see cref="FromEnvironment"/>) and pass it in.
/// </summary>
public sealed record S3ConnectionOptions
{
    /// <summary>Endpoint of an S3-compatible server; null for AWS.</summary>
    public string? Endpoint { get; init; }

    /// <summary>Region used for signing (default us-east-1).</summary>
    public string? Region { get; init; }

    /// <summary>Path-style bucket addressing; null means "when an endpoint is set".</summary>
    public bool? PathStyle { get; init; }

    /// <summary>Send uploads with aws-chunked encoding (AWS default); false for servers that do not decode it (s3rver).</summary>
    public bool ChunkEncoding { get; init; } = true;

    /// <summary>Access key; null uses the SDK's default credential chain.</summary>
    public string? AccessKeyId { get; init; }

    /// <summary>Secret key that goes with <see cref="AccessKeyId"/>.</summary>
    public string? SecretAccessKey { get; init; }

    /// <summary>
    /// MLflow's configuration: endpoint from <c>MLFLOW_S3_ENDPOINT_URL</c> or <c>CAIRN_S3_ENDPOINT_URL</c>, credentials from
    /// <c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c>, region from <c>AWS_REGION</c>/<c>AWS_DEFAULT_REGION</c>,
    /// <c>CAIRN_S3_CHUNK_ENCODING=false</c> turns chunked signing off. <paramref name="lookup"/> is the environment.
    /// </summary>
    public static S3ConnectionOptions FromEnvironment(Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        var chunk = NonEmpty(lookup("CAIRN_S3_CHUNK_ENCODING"));
        return new S3ConnectionOptions
        {
            Endpoint = NonEmpty(lookup("MLFLOW_S3_ENDPOINT_URL")) ?? NonEmpty(lookup("CAIRN_S3_ENDPOINT_URL")),
            Region = NonEmpty(lookup("AWS_REGION")) ?? NonEmpty(lookup("AWS_DEFAULT_REGION")),
            AccessKeyId = NonEmpty(lookup("AWS_ACCESS_KEY_ID")),
            SecretAccessKey = NonEmpty(lookup("AWS_SECRET_ACCESS_KEY")),
            ChunkEncoding = chunk is null || !(chunk.Equals("false", StringComparison.OrdinalIgnoreCase) || chunk == "0"
                || chunk.Equals("no", StringComparison.OrdinalIgnoreCase) || chunk.Equals("off", StringComparison.OrdinalIgnoreCase)),
        };
    }

    /// <summary>
    /// The record's printed form (<see cref="object.ToString"/>, debugger, logs) without the secret key: it says only
    /// whether one is set.
    /// </summary>
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Endpoint = ").Append(Endpoint is null ? "null" : SecretRedaction.StoreUri(Endpoint))
            .Append(", Region = ").Append(Region ?? "null")
            .Append(", PathStyle = ").Append(PathStyle?.ToString() ?? "null")
            .Append(", ChunkEncoding = ").Append(ChunkEncoding)
            .Append(", AccessKeyId = ").Append(AccessKeyId ?? "null")
            .Append(", SecretAccessKey = ").Append(SecretAccessKey is null ? "null" : SecretRedaction.Mask);
        return true;
    }
}

/// <summary>Client construction, URL parsing and multipart pieces shared by <see cref="S3Remote"/> and the S3 artifact store.</summary>
internal static class S3Connection
{
    /// <summary>Builds a client: path-style when an endpoint is set, explicit keys when given, the SDK chain otherwise.</summary>
    public static AmazonS3Client CreateClient(S3ConnectionOptions options)
    {
        var cfg = new AmazonS3Config
        {
            ForcePathStyle = options.PathStyle ?? !string.IsNullOrEmpty(options.Endpoint),
            AuthenticationRegion = options.Region ?? "us-east-1",
        };
        if (!string.IsNullOrEmpty(options.Endpoint)) cfg.ServiceURL = options.Endpoint;
        else cfg.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region ?? "us-east-1");
        return !string.IsNullOrEmpty(options.AccessKeyId)
            ? new AmazonS3Client(new BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey ?? ""), cfg)
            : new AmazonS3Client(cfg);
    }

    /// <summary>Splits <c>s3://bucket/prefix</c> into the bucket and the prefix without surrounding slashes; null when it is not one.</summary>
    public static (string Bucket, string Prefix)? ParseUrl(string url)
    {
        if (!url.StartsWith("s3://", StringComparison.OrdinalIgnoreCase)) return null;
        var rest = url["s3://".Length..];
        var slash = rest.IndexOf('/');
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        return bucket.Length == 0 ? null : (bucket, prefix);
    }

    /// <summary>Uploads one part of a multipart upload from <paramref name="buffer"/>[0..<paramref name="length"/>).</summary>
    public static async Task<PartETag> UploadPartAsync(IAmazonS3 s3, string bucket, string key, string uploadId, int partNumber,
        byte[] buffer, int length, bool chunkEncoding, CancellationToken ct)
    {
        using var ms = new MemoryStream(buffer, 0, length, writable: false);
        var r = await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = bucket,
            Key = key,
            UploadId = uploadId,
            PartNumber = partNumber,
            PartSize = length,
            InputStream = ms,
            UseChunkEncoding = chunkEncoding,
        }, ct).ConfigureAwait(false);
        return new PartETag(partNumber, r.ETag);
    }

    /// <summary>Puts a whole object in one request (the stream is left open).</summary>
    public static async Task PutAsync(IAmazonS3 s3, string bucket, string key, Stream content, bool chunkEncoding, CancellationToken ct) =>
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket,
            Key = key,
            InputStream = content,
            AutoCloseStream = false,
            UseChunkEncoding = chunkEncoding,
        }, ct).ConfigureAwait(false);

    /// <summary>Creates the bucket if it does not exist.</summary>
    public static async Task EnsureBucketAsync(IAmazonS3 s3, string bucket, CancellationToken ct)
    {
        var buckets = await s3.ListBucketsAsync(ct).ConfigureAwait(false);
        if ((buckets.Buckets ?? []).Any(b => b.BucketName == bucket)) return;
        await s3.PutBucketAsync(bucket, ct).ConfigureAwait(false);
    }
}
