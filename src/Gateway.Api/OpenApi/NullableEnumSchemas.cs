using Microsoft.OpenApi;

namespace Gateway.Api.OpenApi;

/// <summary>
/// A nullable enum property is generated as <c>oneOf: [{type: null}, {$ref: TheEnum}]</c>, but the enum's component schema
/// keeps the <c>null</c> of the nullable type it was first generated from. Then null matches both branches and the
/// <c>oneOf</c> fails for every null value. The component names the enum's values only; the property's <c>oneOf</c> says
/// whether null is allowed there.
/// </summary>
internal static class NullableEnumSchemas
{
    public static void Apply(OpenApiDocument document)
    {
        foreach (var schema in (document.Components?.Schemas ?? new Dictionary<string, IOpenApiSchema>()).Values.OfType<OpenApiSchema>())
        {
            if (schema.Enum is not { Count: > 0 } values || !values.Any(v => v is null || v.IsJsonNullSentinel())) continue;
            schema.Enum = [.. values.Where(v => v is not null && !v.IsJsonNullSentinel())];
            if (schema.Type is { } type) schema.Type = type & ~JsonSchemaType.Null;
        }
    }
}
