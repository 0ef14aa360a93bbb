using System.Buffers;
using System.Security.Cryptography;

namespace Cairn.Data;

/// <summary>
/// SHA-256 content hashing: streamed in 1 MiB blocks through the platform's SHA-256
/// (OpenSSL on Linux, CNG on Windows), which uses the SHA-NI / AVX2 instructions when the CPU has them.
/// </summary>
public static class ContentHasher
{
    /// <summary>Size of the read buffer used when hashing a file.</summary>
    public const int BufferSize = 1 << 20;

    /// <summary>The name of the hash algorithm, as written into pointer and lock files.</summary>
    public const string Algorithm = "sha256";

    /// <summary>Hashes a file synchronously and returns the lowercase hex digest.</summary>
    public static string HashFile(string path, CancellationToken cancellationToken = default)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        return HashStream(file, cancellationToken);
    }

    /// <summary>Hashes a file on the thread pool and returns the lowercase hex digest.</summary>
    public static Task<string> HashFileAsync(string path, CancellationToken cancellationToken = default)
        => Task.Run(() => HashFile(path, cancellationToken), cancellationToken);

    /// <summary>Hashes the rest of a stream and returns the lowercase hex digest.</summary>
    public static string HashStream(Stream stream, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = stream.Read(buffer, 0, BufferSize)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                hash.AppendData(buffer, 0, read);
            }
            return ToHex(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Hashes a block of bytes and returns the lowercase hex digest.</summary>
    public static string HashBytes(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(data, digest);
        return Convert.ToHexStringLower(digest);
    }

    /// <summary>Hashes many files in parallel; the result is in the order of <paramref name="paths"/>.</summary>
    public static async Task<string[]> HashFilesAsync(IReadOnlyList<string> paths, int maxParallelism = 0, CancellationToken cancellationToken = default)
    {
        var result = new string[paths.Count];
        var options = new ParallelOptions
        {
            MaxDegreeOfParallelism = maxParallelism > 0 ? maxParallelism : Environment.ProcessorCount,
            CancellationToken = cancellationToken,
        };
        await Parallel.ForAsync(0, paths.Count, options, (i, ct) =>
        {
            result[i] = HashFile(paths[i], ct);
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
        return result;
    }

    /// <summary>True when <paramref name="digest"/> is 64 lowercase hex characters.</summary>
    public static bool IsValidDigest(string? digest)
    {
        if (digest is null || digest.Length != 64) return false;
        foreach (var c in digest)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f')) return false;
        }
        return true;
    }

    internal static string ToHex(IncrementalHash hash)
    {
        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return Convert.ToHexStringLower(digest);
    }
}
