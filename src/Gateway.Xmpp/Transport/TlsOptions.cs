using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.Xmpp.Transport;

/// <summary>How the server certificate is judged. The system trust store is always consulted; one more certificate can
/// be trusted in addition (the dev stack's CA, or a pinned server certificate). Validation is never simply switched off.</summary>
public sealed class TlsOptions
{
    /// <summary>A PEM or DER certificate file trusted in addition to the system store: either a CA (the server's chain must
    /// lead to it and its name must match) or the server's own certificate (pinned byte for byte).</summary>
    public string? TrustedCertificatePath { get; set; }

    /// <summary>The name expected in the certificate; defaults to the XMPP domain.</summary>
    public string? ServerName { get; set; }

    internal RemoteCertificateValidationCallback CreateValidator()
    {
        X509Certificate2? trusted = null;
        if (!string.IsNullOrEmpty(TrustedCertificatePath))
            trusted = X509CertificateLoader.LoadCertificateFromFile(TrustedCertificatePath);
        return (_, certificate, chain, errors) =>
        {
            if (errors == SslPolicyErrors.None) return true;
            if (trusted is null || certificate is null) return false;
            if (certificate.GetRawCertData().AsSpan().SequenceEqual(trusted.RawData)) return true;
            // A wrong name or a missing certificate is never excused; only an unknown root may be, if it is ours.
            if (errors != SslPolicyErrors.RemoteCertificateChainErrors) return false;
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.Add(trusted);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            if (chain is not null)
                foreach (var element in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            return custom.Build(new X509Certificate2(certificate));
        };
    }
}
