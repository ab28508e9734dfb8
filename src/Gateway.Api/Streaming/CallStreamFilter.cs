using Gateway.Api.Auth;
using Gateway.Api.Calls;

namespace Gateway.Api.Streaming;

/// <summary>What a subscription follows.</summary>
public enum CallStreamScope
{
    /// <summary>Every call the API key may see.</summary>
    All,
    /// <summary>Calls with a party or leg at one SIP address.</summary>
    Address,
    /// <summary>One call.</summary>
    Call,
}

/// <summary>
/// Which calls and events a subscription gets: its scope, narrowed by the API key's address scope exactly as
/// <c>GET /calls</c> is (a call is visible when any of its parties or legs is in scope).
/// </summary>
public sealed class CallStreamFilter
{
    private readonly AddressScope _key;

    /// <param name="address">For <see cref="CallStreamScope.Address"/>: the address as <c>user@domain</c>.</param>
    /// <param name="callId">For <see cref="CallStreamScope.Call"/>: the call's id.</param>
    public CallStreamFilter(CallStreamScope scope, string? address, string? callId, AddressScope key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (scope == CallStreamScope.Address && address is null) throw new ArgumentNullException(nameof(address));
        if (scope == CallStreamScope.Call && callId is null) throw new ArgumentNullException(nameof(callId));
        Scope = scope;
        Address = address;
        CallId = callId;
        _key = key;
    }

    public CallStreamScope Scope { get; }

    public string? Address { get; }

    public string? CallId { get; }

    public bool Matches(CallResource call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return Scope switch
        {
            CallStreamScope.Call => call.Id == CallId && _key.AllowsAny(CallAddresses.Of(call)),
            CallStreamScope.Address => Addresses(call).Contains(Address!) && _key.AllowsAny(CallAddresses.Of(call)),
            _ => _key.AllowsAny(CallAddresses.Of(call)),
        };
    }

    public bool Matches(LoggedEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return Scope switch
        {
            CallStreamScope.Call => e.Event.Call.Id == CallId && _key.AllowsAny(e.Addresses),
            CallStreamScope.Address => e.Addresses.Contains(Address!) && _key.AllowsAny(e.Addresses),
            _ => _key.AllowsAny(e.Addresses),
        };
    }

    private static HashSet<string> Addresses(CallResource call) =>
        CallAddresses.Of(call).Select(SipUri.AddressOf).OfType<string>().ToHashSet(StringComparer.Ordinal);
}
