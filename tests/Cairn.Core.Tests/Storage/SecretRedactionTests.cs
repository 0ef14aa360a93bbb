using Cairn.Data.Remotes;

namespace Cairn.Tests.Storage;

/// <summary>The one helper that makes store URIs and connection strings fit to print (issue 11, item 9).</summary>
public sealed class SecretRedactionTests
{
    [Theory]
    [InlineData("Host=db;Port=5432;Username=u;Password=hunter2;Database=d", "Host=db;Port=5432;Username=u;Password=***;Database=d")]
    [InlineData("host=db; password = hunter2 ;database=d", "host=db; password =***;database=d")]
    [InlineData("Host=db;Password='hun;ter''2';Database=d", "Host=db;Password=***;Database=d")]
    [InlineData("Host=db;PWD=hunter2", "Host=db;PWD=***")]
    [InlineData("Host=db;SSL Password=hunter2;Username=u", "Host=db;SSL Password=***;Username=u")]
    [InlineData("postgresql://u:hunter2@db:5432/d?schema=s", "postgresql://u:***@db:5432/d?schema=s")]
    [InlineData("postgresql://u:hun@ter2@db/d", "postgresql://u:***@db/d")]
    [InlineData("postgresql://u:hun/ter2@db/d", "postgresql://u:***@db/d")]
    [InlineData("postgresql+psycopg2://u:hunter2@db/d", "postgresql+psycopg2://u:***@db/d")]
    [InlineData("postgresql://db/d?user=u&password=hunter2&sslmode=require", "postgresql://db/d?user=u&password=***&sslmode=require")]
    [InlineData("http://u:hunter2@127.0.0.1:5000/", "http://u:***@127.0.0.1:5000/")]
    [InlineData("postgresql://u@db/d", "postgresql://u@db/d")]
    [InlineData("http://127.0.0.1:5000", "http://127.0.0.1:5000")]
    [InlineData("s3://bucket/prefix", "s3://bucket/prefix")]
    [InlineData("/home/u/.cairn", "/home/u/.cairn")]
    [InlineData("sqlite:////tmp/x.db", "sqlite:////tmp/x.db")]
    public void Store_uris_and_connection_strings_print_without_their_secrets(string value, string expected)
    {
        var redacted = SecretRedaction.StoreUri(value);
        Assert.Equal(expected, redacted);
        Assert.DoesNotContain("hunter2", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("ter2", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void S3_connection_options_print_without_the_secret_key()
    {
        var options = new S3ConnectionOptions { Endpoint = "http://127.0.0.1:9000", AccessKeyId = "AKIDEXAMPLE", SecretAccessKey = "wJalrXUtnFEMI/K7MDENG" };
        var text = options.ToString();
        Assert.DoesNotContain("wJalrXUtnFEMI", text, StringComparison.Ordinal);
        Assert.Contains("SecretAccessKey = ***", text, StringComparison.Ordinal);
        Assert.Contains("AccessKeyId = AKIDEXAMPLE", text, StringComparison.Ordinal);
        Assert.Contains("SecretAccessKey = null", (options with { SecretAccessKey = null }).ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mysql://u:hunter2@db/d")]
    [InlineData("sqlite://u:hunter2@db/d")]
    public void An_unsupported_store_uri_is_refused_without_echoing_its_password(string uri)
    {
        var e = Assert.Throws<InvalidParameterValueException>(() => Cairn.Storage.StoreUri.SqlitePath(uri));
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
        Assert.Contains("u:***@db", e.Message, StringComparison.Ordinal);
    }
}
