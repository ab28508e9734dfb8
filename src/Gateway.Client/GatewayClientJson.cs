using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Client;

/// <summary>The gateway's JSON: camelCase members (named on every generated type) and enums by their kebab-case value.</summary>
internal static class GatewayClientJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>The generated enums are named after the contract's values (<c>caller-ringing</c> → <c>CallerRinging</c>), so
    /// kebab-case turns the names back into the values.</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        return options;
    }
}

/// <summary>The REST API, generated from the gateway's openapi.yaml.</summary>
public partial class GatewayApiClient
{
    static partial void UpdateJsonSerializerSettings(JsonSerializerOptions settings) => GatewayClientJson.Configure(settings);
}
