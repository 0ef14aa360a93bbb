using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cairn.Tests.Auth;

/// <summary>TLS as the README documents it: Kestrel's endpoint and certificate configuration keys.</summary>
public sealed class TlsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_https_endpoint_from_Kestrels_configuration_serves_the_api_with_access_control()
    {
        using var certificates = new TempDirectory();
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = certificates.Combine("cairn.pfx");
        await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "pfx-password"), Ct);

        await using var server = await AuthServer.StartAsync(new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Https:Url"] = "https://127.0.0.1:0",
            ["Kestrel:Endpoints:Https:Certificate:Path"] = pfx,
            ["Kestrel:Endpoints:Https:Certificate:Password"] = "pfx-password",
        });
        var address = server.Server.Server.Address;
        Assert.Equal("https", address.Scheme);

        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Thumbprint == certificate.Thumbprint };
        using var https = new HttpClient(handler) { BaseAddress = address };
        using var anonymous = await https.GetAsync("api/2.0/mlflow/experiments/get?experiment_id=0", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var login = new HttpRequestMessage(HttpMethod.Get, "api/2.0/mlflow/experiments/get?experiment_id=0") { Headers = { Authorization = AuthServer.Admin } };
        using var ok = await https.SendAsync(login, Ct);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
