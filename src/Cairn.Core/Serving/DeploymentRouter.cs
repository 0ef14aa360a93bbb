using System.Buffers;
using System.Text.Unicode;

namespace Cairn.Serving;

/// <summary>
/// Picks the route of each request for one revision of a deployment. Built once per revision; picking allocates nothing
/// and takes no lock. The traffic is cut into 100 buckets, each owned by a primary route in proportion to its weight (a
/// weight-0 route owns none, so it is never picked). Without a sticky key the bucket is drawn at random; with one it is the
/// 64-bit FNV-1a hash of the key's UTF-8 bytes, mixed and scaled onto 0..99, so one key always lands on the same route and keys spread
/// over the routes as the weights say. Shadow routes see every request.
/// </summary>
public sealed class DeploymentRouter
{
    private const int Buckets = 100;
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    private readonly DeploymentRoute[] _primaries;
    private readonly DeploymentRoute[] _shadows;
    private readonly byte[] _bucketOwner = new byte[Buckets];

    /// <summary>A router for <paramref name="deployment"/>'s routes (validated by the store that returned it).</summary>
    public DeploymentRouter(Deployment deployment)
        : this((deployment ?? throw new ArgumentNullException(nameof(deployment))).Routes)
    {
        Deployment = deployment;
    }

    /// <summary>A router over <paramref name="routes"/>, checked with <see cref="DeploymentValidator.ValidateRoutes"/>.</summary>
    public DeploymentRouter(IReadOnlyList<DeploymentRoute> routes)
    {
        DeploymentValidator.ValidateRoutes(routes);
        _primaries = routes.Where(r => r.Role == RouteRole.Primary).ToArray();
        _shadows = routes.Where(r => r.Role == RouteRole.Shadow).ToArray();
        var next = 0;
        for (var i = 0; i < _primaries.Length; i++)
        {
            var weight = _primaries[i].Weight ?? 0;
            for (var b = 0; b < weight; b++) _bucketOwner[next++] = (byte)i;
        }
    }

    /// <summary>The deployment this router was built for; null when built from routes alone.</summary>
    public Deployment? Deployment { get; }

    /// <summary>The primary routes, in the deployment's order; <see cref="PickIndex(ReadOnlySpan{char})"/> indexes them.</summary>
    public IReadOnlyList<DeploymentRoute> Primaries => _primaries;

    /// <summary>The shadow routes: each sees a copy of every request.</summary>
    public IReadOnlyList<DeploymentRoute> Shadows => _shadows;

    /// <summary>The primary route for a request: by the sticky key when it is not empty, else at random.</summary>
    public DeploymentRoute Pick(ReadOnlySpan<char> stickyKey) => _primaries[PickIndex(stickyKey)];

    /// <summary>The primary route for a request whose sticky key arrived as UTF-8 (a JSON field's raw value).</summary>
    public DeploymentRoute PickUtf8(ReadOnlySpan<byte> stickyKey) => _primaries[PickIndexUtf8(stickyKey)];

    /// <summary>The index in <see cref="Primaries"/> of the route for a request (empty key: random).</summary>
    public int PickIndex(ReadOnlySpan<char> stickyKey) =>
        _bucketOwner[stickyKey.IsEmpty ? Random.Shared.Next(Buckets) : Bucket(stickyKey)];

    /// <inheritdoc cref="PickIndex(ReadOnlySpan{char})"/>
    public int PickIndexUtf8(ReadOnlySpan<byte> stickyKey) =>
        _bucketOwner[stickyKey.IsEmpty ? Random.Shared.Next(Buckets) : Scale(Fnv1a(FnvOffset, stickyKey))];

    /// <summary>The bucket (0..99) of a sticky key: the same for the key's chars and its UTF-8 bytes.</summary>
    public static int Bucket(ReadOnlySpan<char> key)
    {
        Span<byte> buffer = stackalloc byte[256];
        var hash = FnvOffset;
        while (!key.IsEmpty)
        {
            // A lone surrogate becomes U+FFFD, as Encoding.UTF8 writes it; a pair split across chunks is kept whole.
            var status = Utf8.FromUtf16(key, buffer, out var read, out var written, replaceInvalidSequences: true, isFinalBlock: true);
            if (status == OperationStatus.DestinationTooSmall && read == 0) read = 1; // cannot happen with 256 bytes; no endless loop
            hash = Fnv1a(hash, buffer[..written]);
            key = key[read..];
        }
        return Scale(hash);
    }

    /// <inheritdoc cref="Bucket(ReadOnlySpan{char})"/>
    public static int BucketUtf8(ReadOnlySpan<byte> key) => Scale(Fnv1a(FnvOffset, key));

    private static ulong Fnv1a(ulong hash, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            hash ^= b;
            hash *= FnvPrime;
        }
        return hash;
    }

    /// <summary>
    /// The hash mixed (MurmurHash3's 64-bit finalizer: FNV-1a leaves the last bytes of similar keys in the low bits) and
    /// scaled onto 0..99 by its high bits.
    /// </summary>
    private static int Scale(ulong hash)
    {
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;
        return (int)Math.BigMul(hash, Buckets, out _);
    }
}
