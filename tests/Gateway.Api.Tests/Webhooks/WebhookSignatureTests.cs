using System.Text;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Api.Webhooks;

namespace Gateway.Api.Tests.Webhooks;

/// <summary>Standard Webhooks signatures against fixed vectors, and against the independent verifier.</summary>
public sealed class WebhookSignatureTests
{
    // The symmetric test vector of the Standard Webhooks reference libraries (checked with `openssl dgst -sha256 -mac HMAC`).
    private const string ReferenceSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    private static byte[] KeyOf(string secret) => Convert.FromBase64String(secret["whsec_".Length..]);

    [Fact]
    public void SignsTheReferenceLibrariesVector()
    {
        var signature = WebhookSignature.Sign(KeyOf(ReferenceSecret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}"u8);

        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    [Fact]
    public void SignsTheSpecificationsExampleMessageAsComputedByHand()
    {
        // The spec's example id, timestamp and minified body (it names no secret; the reference one is used). Expected value:
        // printf '%s' 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.1674087231.{…}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key> -binary | base64
        const string body = """{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52-5198-4599-803e-771906343485"}}""";

        var signature = WebhookSignature.Sign(KeyOf(ReferenceSecret), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 1674087231, Encoding.UTF8.GetBytes(body));

        Assert.Equal("v1,ARw42xaAApl/nxRo+iPGYwSaMQaOwMo2eyH5JBRA+bQ=", signature);
    }

    [Fact]
    public void ANewSecretIsWhsecAndBase64OfThirtyTwoRandomBytes()
    {
        var key = WebhookSignature.NewKey();
        var secret = WebhookSignature.FormatSecret(key);

        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(key, KeyOf(secret));
        Assert.Equal(32, key.Length);
        Assert.NotEqual(key, WebhookSignature.NewKey());
    }

    [Fact]
    public void DuringARotationTheHeaderCarriesOneSignaturePerKeyAndEitherSecretVerifies()
    {
        var current = WebhookSignature.NewKey();
        var previous = WebhookSignature.NewKey();
        var body = """{"type":"call.ended"}"""u8.ToArray();
        var now = DateTimeOffset.UtcNow;

        var header = WebhookSignature.Header(current, previous, "msg_abc", now.ToUnixTimeSeconds(), body);

        Assert.Equal(2, header.Split(' ').Length);
        var ts = now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Null(StandardWebhookVerifier.Verify(WebhookSignature.FormatSecret(current), "msg_abc", ts, header, body, now));
        Assert.Null(StandardWebhookVerifier.Verify(WebhookSignature.FormatSecret(previous), "msg_abc", ts, header, body, now));
        Assert.Equal(WebhookSignature.Sign(current, "msg_abc", now.ToUnixTimeSeconds(), body), WebhookSignature.Header(current, null, "msg_abc", now.ToUnixTimeSeconds(), body));
    }

    [Fact]
    public void TheVerifierRefusesATamperedBodyAnotherSecretAnotherIdAndAStaleTimestamp()
    {
        var key = WebhookSignature.NewKey();
        var secret = WebhookSignature.FormatSecret(key);
        var body = """{"type":"call.connected"}"""u8.ToArray();
        var now = DateTimeOffset.UtcNow;
        var ts = now.ToUnixTimeSeconds();
        var header = WebhookSignature.Sign(key, "msg_1", ts, body);
        var text = ts.ToString(System.Globalization.CultureInfo.InvariantCulture);

        Assert.Null(StandardWebhookVerifier.Verify(secret, "msg_1", text, header, body, now));
        Assert.NotNull(StandardWebhookVerifier.Verify(secret, "msg_1", text, header, """{"type":"call.ended"}"""u8.ToArray(), now));
        Assert.NotNull(StandardWebhookVerifier.Verify(WebhookSignature.FormatSecret(WebhookSignature.NewKey()), "msg_1", text, header, body, now));
        Assert.NotNull(StandardWebhookVerifier.Verify(secret, "msg_2", text, header, body, now));
        Assert.NotNull(StandardWebhookVerifier.Verify(secret, "msg_1", text, header, body, now.AddMinutes(6)));
    }
}
