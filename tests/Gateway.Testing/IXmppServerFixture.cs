namespace Gateway.Testing;

/// <summary>
/// A real XMPP server of a test's own, configured from the repository's deploy scripts: what the gateway, the reference
/// service and the library's real-server tests need to know about it, whichever server it is. Both servers have the same
/// shape: <see cref="Domain"/> (SCRAM-SHA-256) and <see cref="Sha1Domain"/> (SCRAM-SHA-1) on a STARTTLS-only c2s port,
/// and the reference service's three XEP-0114 components on <see cref="ComponentPort"/> with <see cref="ComponentSecret"/>.
/// </summary>
public interface IXmppServerFixture
{
    /// <summary>Which server this is ("Prosody", "ejabberd"), for test names and messages.</summary>
    string ServerName { get; }

    /// <summary>The main XMPP domain; its accounts authenticate with SCRAM-SHA-256.</summary>
    string Domain { get; }

    /// <summary>A second virtual host whose accounts authenticate with SCRAM-SHA-1.</summary>
    string Sha1Domain { get; }

    /// <summary>The XEP-0114 component for the Active-Calls ad-hoc commands.</summary>
    string ActiveCallsComponent { get; }

    /// <summary>The XEP-0114 component for the Auth ad-hoc commands.</summary>
    string AuthComponent { get; }

    /// <summary>The XEP-0114 component for the Active-Calls PubSub service.</summary>
    string PubSubComponent { get; }

    /// <summary>The server listens on this address only.</summary>
    string Host { get; }

    int C2sPort { get; }

    int ComponentPort { get; }

    /// <summary>The secret of all three components.</summary>
    string ComponentSecret { get; }

    /// <summary>The dev CA that signed the server certificate: trust it to validate the server.</summary>
    string CaCertificatePath { get; }

    /// <summary>Creates the account (or resets its password) on <paramref name="host"/>, by default <see cref="Domain"/>.</summary>
    Task RegisterAsync(string user, string password, string? host = null);

    /// <summary>Stops the server and starts it again on the same ports with the same data (accounts survive).</summary>
    Task RestartAsync();

    /// <summary>Starts the server again after <see cref="StopAsync"/> (a no-op when it is running).</summary>
    Task StartAsync();

    /// <summary>Stops the server (a no-op when it is stopped); every connection to it is closed.</summary>
    Task StopAsync();
}
