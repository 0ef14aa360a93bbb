using System.Security.Cryptography;
using Cairn.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cairn.Server.Auth;

/// <summary>
/// With access control on and no user yet, creates the first admin as the host starts, before it listens: named by
/// <c>CAIRN_ADMIN_USERNAME</c> (default <c>admin</c>), with the password in <c>CAIRN_ADMIN_PASSWORD</c>, or else a generated
/// one-time password written to <see cref="PasswordFileName"/> in CAIRN_HOME, readable only by its owner. The log names the
/// file, never the password.
/// </summary>
internal sealed partial class AdminBootstrap(ServerStores stores, CairnPasswords passwords, IOptions<CairnAuthOptions> options, IConfiguration configuration,
    ILogger<AdminBootstrap> logger) : IHostedLifecycleService
{
    public const string PasswordFileName = "initial-admin-password";

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.Enabled) return;
        var users = stores.Users;
        // Most starts: users exist, nothing to hash or write.
        if ((await users.ListUsersAsync(cancellationToken).ConfigureAwait(false)).Count > 0) return;

        var username = options.Value.AdminUsername;
        if (configuration["CAIRN_ADMIN_PASSWORD"] is { Length: > 0 } given)
        {
            string hash;
            try
            {
                hash = passwords.Hash(given);
            }
            catch (InvalidParameterValueException e)
            {
                throw new InvalidParameterValueException($"CAIRN_ADMIN_PASSWORD: {e.Message}");
            }
            if (await users.CreateFirstAdminAsync(username, hash, cancellationToken).ConfigureAwait(false))
                LogCreatedFromEnvironment(logger, username);
            return;
        }

        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
        var file = Path.Combine(CairnHome(configuration), PasswordFileName);
        // Written before the user exists: if writing fails, no admin is left with a password nobody knows.
        WriteOwnerOnly(file, password + "\n");
        if (await users.CreateFirstAdminAsync(username, passwords.Hash(password), cancellationToken).ConfigureAwait(false))
            LogCreatedWithFile(logger, username, file);
        else
            File.Delete(file);
    }

    /// <summary>CAIRN_HOME as the server resolves it for its default store (default <c>.cairn</c>).</summary>
    internal static string CairnHome(IConfiguration configuration) =>
        Path.GetFullPath(configuration["CAIRN_HOME"] is { Length: > 0 } h ? h : ".cairn");

    /// <summary>Creates <paramref name="path"/> anew with mode 600 (on Unix) before anything is written to it.</summary>
    private static void WriteOwnerOnly(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // A file left by an earlier start may have other permissions; a new file gets exactly these.
        File.Delete(path);
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, fileOptions);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2000, Level = LogLevel.Warning,
        Message = "Access control is on and there were no users: created the admin '{Username}' with the password in CAIRN_ADMIN_PASSWORD.")]
    private static partial void LogCreatedFromEnvironment(ILogger logger, string username);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning,
        Message = "Access control is on and there were no users: created the admin '{Username}' with a one-time password, written to {PasswordFile} (readable only by this user). Log in, change it with users/update-password, then delete the file.")]
    private static partial void LogCreatedWithFile(ILogger logger, string username, string passwordFile);
}
