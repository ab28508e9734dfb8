using System.Net;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using static Gateway.Api.Tests.Infrastructure.TestHelpers;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>The SSRF guard: which addresses are refused, URL checks at registration, and the connect-time check.</summary>
public sealed class WebhookTargetGuardTests
{
    private static WebhookTargetGuard Guard(bool allowPrivate = false, bool requireHttps = true) =>
        new(Options.Create(new WebhookOptions { AllowPrivateTargets = allowPrivate, RequireHttps = requireHttps }));

    [Theory]
    [InlineData("0.0.0.0", AddressClass.Unspecified)]
    [InlineData("0.1.2.3", AddressClass.Unspecified)]
    [InlineData("127.0.0.1", AddressClass.Loopback)]
    [InlineData("127.255.0.9", AddressClass.Loopback)]
    [InlineData("10.1.2.3", AddressClass.Private)]
    [InlineData("172.16.0.1", AddressClass.Private)]
    [InlineData("172.31.255.254", AddressClass.Private)]
    [InlineData("192.168.1.1", AddressClass.Private)]
    [InlineData("169.254.169.254", AddressClass.LinkLocal)]
    [InlineData("100.64.0.1", AddressClass.SharedAddressSpace)]
    [InlineData("100.127.255.255", AddressClass.SharedAddressSpace)]
    [InlineData("224.0.0.1", AddressClass.Multicast)]
    [InlineData("239.255.255.250", AddressClass.Multicast)]
    [InlineData("255.255.255.255", AddressClass.Reserved)]
    [InlineData("240.0.0.1", AddressClass.Reserved)]
    [InlineData("192.0.2.10", AddressClass.Reserved)]
    [InlineData("198.18.0.1", AddressClass.Reserved)]
    [InlineData("8.8.8.8", AddressClass.Public)]
    [InlineData("172.32.0.1", AddressClass.Public)]
    [InlineData("100.128.0.1", AddressClass.Public)]
    [InlineData("169.253.1.1", AddressClass.Public)]
    [InlineData("::", AddressClass.Unspecified)]
    [InlineData("::1", AddressClass.Loopback)]
    [InlineData("fe80::1", AddressClass.LinkLocal)]
    [InlineData("febf::1", AddressClass.LinkLocal)]
    [InlineData("fc00::1", AddressClass.Private)]
    [InlineData("fd12:3456::1", AddressClass.Private)]
    [InlineData("fec0::1", AddressClass.Private)]
    [InlineData("ff02::1", AddressClass.Multicast)]
    [InlineData("2001:db8::1", AddressClass.Reserved)]
    [InlineData("::ffff:127.0.0.1", AddressClass.Loopback)]
    [InlineData("::ffff:10.0.0.1", AddressClass.Private)]
    [InlineData("::ffff:169.254.169.254", AddressClass.LinkLocal)]
    [InlineData("::ffff:100.64.1.1", AddressClass.SharedAddressSpace)]
    [InlineData("::ffff:0.0.0.0", AddressClass.Unspecified)]
    [InlineData("::ffff:8.8.8.8", AddressClass.Public)]
    [InlineData("::127.0.0.1", AddressClass.Reserved)]
    [InlineData("64:ff9b::7f00:1", AddressClass.Loopback)]
    [InlineData("64:ff9b::808:808", AddressClass.Public)]
    [InlineData("2002:a00:1::1", AddressClass.Private)]
    [InlineData("2002:808:808::1", AddressClass.Public)]
    [InlineData("2606:4700:4700::1111", AddressClass.Public)]
    public void ClassifiesAddressesIncludingIPv4FormsInsideIPv6(string address, AddressClass expected)
    {
        Assert.Equal(expected, WebhookTargetGuard.Classify(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData(null, "is required.")]
    [InlineData("hooks.example.com/x", "must be an absolute http(s) URL.")]
    [InlineData("ftp://hooks.example.com/x", "must be an absolute http(s) URL.")]
    [InlineData("http://8.8.8.8/x", "must use https (Gateway:Webhooks:RequireHttps is on).")]
    [InlineData("https://user:pw@8.8.8.8/x", "must not carry credentials; authenticate deliveries by their signature.")]
    [InlineData("https://8.8.8.8/x#frag", "must not have a fragment.")]
    public async Task RefusesUrlsThatAreNotPlainAbsoluteHttps(string? url, string error)
    {
        var (uri, actual) = await Guard().CheckAsync(url, Ct);

        Assert.Null(uri);
        Assert.Equal(error, actual);
    }

    [Theory]
    [InlineData("https://127.0.0.1/hook", "points at 127.0.0.1, a loopback address")]
    [InlineData("https://[::1]:8443/hook", "points at ::1, a loopback address")]
    [InlineData("https://[::ffff:10.0.0.7]/hook", "points at ::ffff:10.0.0.7, a private address")]
    [InlineData("https://169.254.169.254/latest/meta-data", "points at 169.254.169.254, a link-local address")]
    [InlineData("https://100.100.100.200/hook", "points at 100.100.100.200, a carrier-grade NAT address")]
    [InlineData("https://localhost/hook", "a loopback address")]
    public async Task RefusesTargetsThatAreOrResolveToNonPublicAddresses(string url, string error)
    {
        var (uri, actual) = await Guard().CheckAsync(url, Ct);

        Assert.Null(uri);
        Assert.Contains(error, actual, StringComparison.Ordinal);
        Assert.Contains("Gateway:Webhooks:AllowPrivateTargets", actual, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusesAHostThatDoesNotResolve()
    {
        var (uri, error) = await Guard().CheckAsync("https://no-such-host.invalid/hook", Ct);

        Assert.Null(uri);
        Assert.Equal("has a host 'no-such-host.invalid' that could not be resolved.", error);
    }

    [Fact]
    public async Task AcceptsPublicLiteralsAndWithAllowPrivateTargetsAnyHttpTarget()
    {
        Assert.Equal(new Uri("https://8.8.8.8/hook"), (await Guard().CheckAsync("https://8.8.8.8/hook", Ct)).Url);
        Assert.Equal(new Uri("http://127.0.0.1:9/hook"), (await Guard(allowPrivate: true, requireHttps: false).CheckAsync("http://127.0.0.1:9/hook", Ct)).Url);
    }

    [Fact]
    public async Task TheDeliveryHandlerRefusesToConnectToALoopbackReceiverUnlessPrivateTargetsAreAllowed()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // By name: the check happens after DNS resolution, at connect time, whatever was checked at registration.
        var url = $"http://localhost:{receiver.Port}/hook";

        using (var guarded = new HttpClient(Guard().CreateHandler()))
        {
            var e = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.PostAsync(url, new StringContent("{}"), Ct));
            var refused = Assert.IsType<WebhookTargetRefusedException>(e.InnerException);
            Assert.Contains("a loopback address", refused.Message, StringComparison.Ordinal);
        }
        Assert.Empty(receiver.Requests);

        using var open = new HttpClient(Guard(allowPrivate: true).CreateHandler());
        var response = await open.PostAsync(url, new StringContent("{}"), Ct);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Single(receiver.Requests);
    }

    [Fact]
    public async Task TheConnectTimeCheckConnectsItsOwnSocketToAnAddressItAllows()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // Production allows public addresses only; none is reachable from a test, so this guard allows 127.0.0.1.
        var guard = new WebhookTargetGuard(Options.Create(new WebhookOptions()), a => a.Equals(IPAddress.Loopback));

        using var client = new HttpClient(guard.CreateHandler());
        var first = await client.PostAsync($"http://localhost:{receiver.Port}/hook", new StringContent("{}"), Ct);
        var second = await client.PostAsync($"http://127.0.0.1:{receiver.Port}/hook", new StringContent("{}"), Ct);

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, second.StatusCode);
        Assert.Equal(2, receiver.Requests.Count);
    }

    [Fact]
    public async Task TheDeliveryHandlerDoesNotFollowRedirects()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = (_, _) => Task.FromResult(StatusCodes.Status307TemporaryRedirect);

        using var client = new HttpClient(Guard(allowPrivate: true).CreateHandler());
        var response = await client.PostAsync(receiver.Url(), new StringContent("{}"), Ct);

        Assert.Equal(HttpStatusCode.TemporaryRedirect, response.StatusCode);
        Assert.Single(receiver.Requests);
    }
}
