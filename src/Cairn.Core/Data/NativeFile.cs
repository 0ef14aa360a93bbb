using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Cairn.Data;

/// <summary>What the stat cache keys a file on: size, modification time (ns) and inode.</summary>
public readonly record struct FileStatInfo(long Size, long MtimeNs, long Inode);

/// <summary>
/// Thin wrappers over libc for what .NET does not expose: the inode (stat), hard links (link)
/// and copy-on-write clones (ioctl FICLONE). Other platforms fall back to managed calls.
/// </summary>
internal static partial class NativeFile
{
    private const int FICLONE = 0x40049409;
    private static readonly bool s_linuxStat = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;
    private static bool s_statBroken;

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static unsafe partial int Stat(byte* path, byte* buf);

    [LibraryImport("libc", EntryPoint = "fstatat", SetLastError = true)]
    private static unsafe partial int FStatAt(int dirFd, byte* path, byte* buf, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static unsafe partial int Open(byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true)]
    private static unsafe partial int Link(byte* oldPath, byte* newPath);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(nint fd, nuint request, nint arg);

    /// <summary>stat() of a path (following symlinks); false when it does not exist or is not a regular file.</summary>
    public static unsafe bool TryGetStat(ReadOnlySpan<char> path, out FileStatInfo info)
    {
        if (s_linuxStat && !s_statBroken)
        {
            // struct stat on Linux x86_64 and arm64 (generic): st_ino at 8, st_size at 48, st_mtim at 88.
            byte* statBuf = stackalloc byte[256];
            int max = Encoding.UTF8.GetMaxByteCount(path.Length) + 1;
            Span<byte> utf8 = max <= 2048 ? stackalloc byte[max] : new byte[max];
            int n = Encoding.UTF8.GetBytes(path, utf8);
            utf8[n] = 0;
            try
            {
                fixed (byte* p = utf8)
                {
                    if (Stat(p, statBuf) != 0)
                    {
                        info = default;
                        return false;
                    }
                }
                uint mode = ModeOf(statBuf);
                if ((mode & 0xF000) != 0x8000) // S_IFREG
                {
                    info = default;
                    return false;
                }
                long ino = *(long*)(statBuf + 8);
                long size = *(long*)(statBuf + 48);
                long sec = *(long*)(statBuf + 88);
                long nsec = *(long*)(statBuf + 96);
                info = new FileStatInfo(size, sec * 1_000_000_000 + nsec, ino);
                return true;
            }
            catch (EntryPointNotFoundException)
            {
                s_statBroken = true; // glibc older than 2.33 exports no stat symbol
            }
        }
        var fi = new FileInfo(path.ToString());
        if (!fi.Exists || fi.Attributes.HasFlag(FileAttributes.ReparsePoint))
        {
            info = default;
            return false;
        }
        info = new FileStatInfo(fi.Length, (fi.LastWriteTimeUtc.Ticks - DateTime.UnixEpoch.Ticks) * 100, 0);
        return true;
    }

    /// <summary>True when <see cref="OpenDirectory"/> and <see cref="TryGetStatAt"/> are available (Linux x64/arm64).</summary>
    public static bool SupportsStatAt => s_linuxStat && !s_statBroken;

    /// <summary>Opens a folder for <see cref="TryGetStatAt"/>; -1 when it cannot.</summary>
    public static unsafe int OpenDirectory(ReadOnlySpan<char> path)
    {
        if (!SupportsStatAt) return -1;
        // O_RDONLY | O_DIRECTORY | O_CLOEXEC; O_DIRECTORY differs between x86-64 and the generic ABI.
        int flags = (RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 0x10000 : 0x4000) | 0x80000;
        int max = Encoding.UTF8.GetMaxByteCount(path.Length) + 1;
        Span<byte> utf8 = max <= 2048 ? stackalloc byte[max] : new byte[max];
        int n = Encoding.UTF8.GetBytes(path, utf8);
        utf8[n] = 0;
        fixed (byte* p = utf8) return Open(p, flags);
    }

    /// <summary>Closes a folder opened with <see cref="OpenDirectory"/>.</summary>
    public static void CloseDirectory(int fd)
    {
        if (fd >= 0) Close(fd);
    }

    /// <summary>stat() of a name inside an open folder: the kernel walks one path component instead of all.</summary>
    public static unsafe bool TryGetStatAt(int dirFd, ReadOnlySpan<char> name, out FileStatInfo info)
    {
        byte* statBuf = stackalloc byte[256];
        int max = Encoding.UTF8.GetMaxByteCount(name.Length) + 1;
        Span<byte> utf8 = max <= 1024 ? stackalloc byte[max] : new byte[max];
        int n = Encoding.UTF8.GetBytes(name, utf8);
        utf8[n] = 0;
        fixed (byte* p = utf8)
        {
            if (FStatAt(dirFd, p, statBuf, 0) != 0 || (ModeOf(statBuf) & 0xF000) != 0x8000)
            {
                info = default;
                return false;
            }
        }
        info = new FileStatInfo(*(long*)(statBuf + 48), *(long*)(statBuf + 88) * 1_000_000_000 + *(long*)(statBuf + 96), *(long*)(statBuf + 8));
        return true;
    }

    private static unsafe uint ModeOf(byte* buf)
        => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? *(uint*)(buf + 24) : *(uint*)(buf + 16);

    /// <summary>Creates a hard link; false when the file system refuses (cross-device, unsupported).</summary>
    public static unsafe bool TryHardLink(string existing, string newPath)
    {
        if (OperatingSystem.IsWindows()) return false;
        var a = Utf8z(existing);
        var b = Utf8z(newPath);
        fixed (byte* pa = a)
        fixed (byte* pb = b)
        {
            return Link(pa, pb) == 0;
        }
    }

    /// <summary>
    /// Flushes a file's data (written by this or another handle: a stream, a copy, a link) to the disk with fsync.
    /// File systems that cannot (EINVAL) are let be; any other failure is an I/O error.
    /// </summary>
    public static void FlushToDisk(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            fs.Flush(flushToDisk: true);
            return;
        }
        if (!FsyncPath(path, out int errno) && errno != EINVAL) throw new IOException($"{path}: fsync failed (errno {errno})");
    }

    /// <summary>
    /// Flushes a folder's entries (names just renamed into it) to the disk; where folders cannot be opened
    /// (Windows, whose NTFS journals names itself) or synced, it does nothing.
    /// </summary>
    public static void FlushDirectoryToDisk(string path)
    {
        if (!OperatingSystem.IsWindows()) FsyncPath(path, out _);
    }

    private const int EINVAL = 22;

    // open(O_RDONLY) + fsync: fsync needs no write access, and a folder can be opened read-only too.
    private static unsafe bool FsyncPath(string path, out int errno)
    {
        var utf8 = Utf8z(path);
        int fd;
        fixed (byte* p = utf8) fd = Open(p, 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return false;
        }
        try
        {
            bool ok = Fsync(fd) == 0;
            errno = ok ? 0 : Marshal.GetLastPInvokeError();
            return ok;
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>Clones <paramref name="source"/> into a new file with ioctl(FICLONE); false when unsupported.</summary>
    public static bool TryReflink(string source, string dest)
    {
        if (!OperatingSystem.IsLinux()) return false;
        using SafeFileHandle src = File.OpenHandle(source, FileMode.Open, FileAccess.Read);
        bool ok;
        using (SafeFileHandle dst = File.OpenHandle(dest, FileMode.CreateNew, FileAccess.Write))
        {
            ok = Ioctl(dst.DangerousGetHandle(), FICLONE, src.DangerousGetHandle()) == 0;
        }
        if (!ok) File.Delete(dest);
        return ok;
    }

    private static byte[] Utf8z(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
