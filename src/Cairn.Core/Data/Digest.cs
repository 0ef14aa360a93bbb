using System.Runtime.CompilerServices;

namespace Cairn.Data;

/// <summary>A raw 32-byte SHA-256 digest held inline (no heap allocation).</summary>
[InlineArray(32)]
internal struct Digest32
{
    private byte _element0;

    public static Digest32 FromHex(ReadOnlySpan<char> hex)
    {
        var d = default(Digest32);
        if (Convert.FromHexString(hex, d, out _, out int written) != System.Buffers.OperationStatus.Done || written != 32)
        {
            throw new InvalidParameterValueException($"'{hex}' is not a SHA-256 digest (64 hex characters)");
        }
        return d;
    }

    public readonly string ToHex() => Convert.ToHexStringLower(this);

    public readonly bool SequenceEqual(in Digest32 other)
        => ((ReadOnlySpan<byte>)this).SequenceEqual(other);
}
