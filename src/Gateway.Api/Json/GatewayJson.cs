using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Api.Json;

/// <summary>The JSON rules for everything clients send: REST bodies (<c>ConfigureHttpJsonOptions</c>, read by
/// <see cref="JsonBody{T}"/>) and the SignalR hub's arguments.</summary>
public static class GatewayJson
{
    /// <summary>
    /// camelCase member names, matched case-insensitively (<c>"From"</c> is <c>from</c>); numbers only as JSON numbers;
    /// unknown members refused; a member given twice refused — by the serializer itself
    /// (<see cref="JsonSerializerOptions.AllowDuplicateProperties"/>), in nested objects too, and with two spellings of
    /// one member (<c>"from"</c> and <c>"From"</c>) counting as the same member.
    /// </summary>
    public static JsonSerializerOptions ApplyClientRules(this JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.PropertyNameCaseInsensitive = true;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.AllowDuplicateProperties = false;
        return options;
    }
}
