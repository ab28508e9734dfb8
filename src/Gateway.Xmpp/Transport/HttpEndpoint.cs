using System.Net.Sockets;
using System.Security.Authentication;

namespace Gateway.Xmpp.Transport;

/// <summary>The HTTP side the WebSocket and BOSH transports share: sockets go to the endpoint's host and port, while the
/// request (TLS name and HTTP host) names the server (<see cref="TlsOptions.ServerName"/>, else the XMPP domain), whose
/// certificate is judged by <see cref="TlsOptions"/> as on TCP.</summary>
internal static class HttpEndpoint
{
    public static SocketsHttpHandler CreateHandler(Uri endpoint, TlsOptions tls, TimeSpan connectTimeout) => new()
    {
        ConnectTimeout = connectTimeout,
        UseProxy = false,
        UseCookies = false,
        ConnectCallback = async (_, token) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endpoint.Host, endpoint.Port, token);
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
        SslOptions =
        {
            RemoteCertificateValidationCallback = tls.CreateValidator(),
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        },
    };

    /// <summary>The URL requested: the endpoint with the server's name as host when TLS is used.</summary>
    public static Uri RequestUri(Uri endpoint, string serverName, TlsOptions tls) =>
        IsSecure(endpoint) ? new UriBuilder(endpoint) { Host = tls.ServerName ?? serverName }.Uri : endpoint;

    public static bool IsSecure(Uri endpoint) => endpoint.Scheme is "wss" or "https";

    /// <summary>Whether a failed request failed on the server's certificate.</summary>
    public static bool IsCertificateRejection(Exception e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            if (inner is AuthenticationException) return true;
        return false;
    }
}
