namespace Cairn.Tests.Artifacts;

/// <summary>
/// A read-only, non-seekable stream of <paramref name="length"/> deterministic pseudo-random bytes, generated on the
/// fly so a test can push hundreds of megabytes without holding them. Optionally throws after <paramref name="failAfter"/> bytes.
/// </summary>
internal sealed class GeneratedStream(long length, ulong seed = 0x9E3779B97F4A7C15, long? failAfter = null) : Stream
{
    private ulong _state = seed | 1;
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (failAfter is { } limit && _position >= limit) throw new IOException($"Generated failure after {limit} bytes.");
        var n = (int)Math.Min(buffer.Length, length - _position);
        if (failAfter is { } cut) n = (int)Math.Min(n, cut - _position);
        for (var i = 0; i < n; i++)
        {
            // xorshift64: cheap, deterministic, not compressible into a pattern a bug could hide behind.
            _state ^= _state << 13;
            _state ^= _state >> 7;
            _state ^= _state << 17;
            buffer[i] = (byte)_state;
        }
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
