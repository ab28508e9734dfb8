using System.Buffers;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Json;

/// <summary>
/// A JSON request body of type <typeparamref name="T"/>: how every JSON endpoint takes its body, instead of minimal
/// APIs' own body binding (which stops at the first problem), so that one 400 lists every problem at once. With the
/// gateway's serializer options (<see cref="GatewayJson.ApplyClientRules"/>):
/// <list type="number">
/// <item>refused at once, as minimal APIs would (a <see cref="BadHttpRequestException"/> that the exception handler
/// maps): a body that is not JSON (415), too large (413), not valid JSON, not an object, or that gives a member twice
/// (the serializer finds it: <see cref="JsonSerializerOptions.AllowDuplicateProperties"/>; also in two spellings,
/// <c>from</c> and <c>From</c>, and in nested objects): 400 naming the member;</item>
/// <item>otherwise each member of the object is read on its own: one <typeparamref name="T"/> does not have, or one
/// of the wrong JSON type, goes to <see cref="Errors"/> keyed by its JSON path; the others are bound into
/// <see cref="Value"/>;</item>
/// <item>the handler validates <see cref="Value"/>'s fields and <see cref="Merge"/>s these errors in, so the 400 lists
/// the unknown and mistyped members and every invalid field together.</item>
/// </list>
/// The endpoint still declares its body with <c>Accepts&lt;T&gt;</c> for the OpenAPI document.
/// </summary>
public sealed class JsonBody<T> : IBindableFromHttpContext<JsonBody<T>> where T : class
{
    private static readonly IReadOnlyDictionary<string, string[]> NoErrors = new Dictionary<string, string[]>();

    private JsonBody(T? value, IReadOnlyDictionary<string, string[]> errors)
    {
        Value = value;
        Errors = errors;
    }

    /// <summary>The members that could be read; null when there was no body or it was JSON <c>null</c>.</summary>
    public T? Value { get; }

    /// <summary>Unknown members and members of the wrong JSON type, by JSON path.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; }

    /// <summary>Adds <see cref="Errors"/> to the handler's field errors and returns them. A member the body already
    /// refused keeps the body's message: it is missing from <see cref="Value"/>, so field validation could only say
    /// that it is required.</summary>
    public Dictionary<string, string[]> Merge(Dictionary<string, string[]> fieldErrors)
    {
        ArgumentNullException.ThrowIfNull(fieldErrors);
        foreach (var (field, messages) in Errors) fieldErrors[field] = messages;
        return fieldErrors;
    }

    static async ValueTask<JsonBody<T>?> IBindableFromHttpContext<JsonBody<T>>.BindAsync(HttpContext context, ParameterInfo parameter)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false }) return new JsonBody<T>(null, NoErrors);
        if (!request.HasJsonContentType())
            throw new BadHttpRequestException($"Expected a supported JSON media type but got \"{request.ContentType}\".", StatusCodes.Status415UnsupportedMediaType);
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            // The tokenizer alone (syntax errors end here); members given twice are the serializer's to find below, as it
            // knows which spellings name one member.
            using var body = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions
            {
                MaxDepth = options.MaxDepth,
                AllowTrailingCommas = options.AllowTrailingCommas,
                CommentHandling = options.ReadCommentHandling,
            }, context.RequestAborted);
            return Read(body.RootElement, options);
        }
        catch (JsonException e)
        {
            throw new BadHttpRequestException($"Failed to read the request body as {typeof(T).Name}.", StatusCodes.Status400BadRequest, e);
        }
    }

    private static JsonBody<T> Read(JsonElement body, JsonSerializerOptions options)
    {
        var contract = options.GetTypeInfo(typeof(T));
        if (body.ValueKind != JsonValueKind.Object || contract.Kind != JsonTypeInfoKind.Object)
            return new JsonBody<T>(body.Deserialize<T>(options), NoErrors); // null, or the serializer's own refusal

        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var comparison = options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var takesUnknown = contract.Properties.Any(p => p.IsExtensionData);
        var readable = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(readable))
        {
            writer.WriteStartObject();
            foreach (var member in body.EnumerateObject())
            {
                var property = contract.Properties.FirstOrDefault(p => !p.IsExtensionData && string.Equals(p.Name, member.Name, comparison));
                if (property is null && !takesUnknown)
                {
                    errors[member.Name] = [JsonBodyErrors.NotAMember];
                    continue;
                }
                if (property is not null)
                {
                    try
                    {
                        member.Value.Deserialize(property.PropertyType, options);
                    }
                    catch (JsonException e)
                    {
                        var error = JsonBodyErrors.Describe(e, member.Name, property.PropertyType);
                        // A member given twice in a nested object refuses the body as one at the top level does (below).
                        if (error.Message == JsonBodyErrors.GivenMoreThanOnce) throw new JsonException(e.Message, "$." + error.Field, e.LineNumber, e.BytePositionInLine, e);
                        errors[error.Field] = [error.Message];
                        continue;
                    }
                }
                member.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        // The serializer refuses a member given twice here (AllowDuplicateProperties = false), in one spelling or two.
        return new JsonBody<T>(JsonSerializer.Deserialize<T>(readable.WrittenSpan, options), errors.Count == 0 ? NoErrors : errors);
    }
}
