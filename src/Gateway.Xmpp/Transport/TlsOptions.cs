using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.Xmpp.Transport;

/// <summary>How the server certificate is judged. The system trust store is always consulted; a pinned certificate can
/// be trusted in addition (the dev stack's self-signed one). Validation is never simply switched off.</summary>
public sealed class TlsOptions
{
    /// <summary>A PEM or DER certificate file to trust in addition to the system store (e.g. the dev stack's).</summary>
    public string? TrustedCertificatePath { get; set; }

    /// <summary>The name expected in the certificate; defaults to the XMPP domain.</summary>
    public string? ServerName { get; set; }

    internal RemoteCertificateValidationCallback CreateValidator()
    {
        X509Certificate2? pinned = null;
        if (!string.IsNullOrEmpty(TrustedCertificatePath))
            pinned = X509CertificateLoader.LoadCertificateFromFile(TrustedCertificatePath);
        return (_, certificate, _, errors) =>
        {
            if (errors == SslPolicyErrors.None) return true;
            if (pinned is null || certificate is null) return false;
            // A pinned certificate is trusted for exactly itself: byte-for-byte, whatever its chain or name says.
            return certificate.GetRawCertData().AsSpan().SequenceEqual(pinned.RawData);
        };
    }
}
