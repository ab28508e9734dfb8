using System.Security.Cryptography;

namespace ActiveCalls.Service.Commands;

/// <summary>Identifiers the component hands out, from the cryptographic RNG (a session id is a capability).</summary>
public static class CommandIds
{
    private const string CallSetupIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>32 lower-case hex digits, like OnSIP's <c>sessionid</c>s.</summary>
    public static string NewSessionId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>8 lower-case letters and digits: the form every OnSIP client accepts (OXJS insists on /[a-z0-9]{8}/).</summary>
    public static string NewCallSetupId() => RandomNumberGenerator.GetString(CallSetupIdAlphabet, CommandValidator.CallSetupIdLength);
}
