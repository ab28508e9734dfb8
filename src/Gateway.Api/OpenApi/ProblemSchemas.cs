using System.Text.Json.Nodes;
using Gateway.Api.Errors;
using Gateway.Xmpp.Core;
using Microsoft.OpenApi;

namespace Gateway.Api.OpenApi;

/// <summary>
/// The problem+json bodies as the gateway sends them (<see cref="Problems"/>): <c>Problem</c> (RFC 9457 members, the
/// <c>code</c>, the <c>traceId</c> and the extension members some problems carry) and <c>ValidationProblem</c> (the same
/// with per-field <c>errors</c>). The framework's <c>ProblemDetails</c> schemas describe neither (they forbid every
/// extension member), so every problem+json response is pointed at these instead.
/// </summary>
internal static class ProblemSchemas
{
    public const string MediaType = "application/problem+json";
    public const string Problem = "Problem";
    public const string ValidationProblem = "ValidationProblem";
    public const string Code = "ProblemCode";

    /// <summary>The framework's schemas, replaced by the two above.</summary>
    private static readonly string[] FrameworkSchemas = ["ProblemDetails", "HttpValidationProblemDetails"];

    /// <summary>The members beside the RFC 9457 ones, each sent only by the problems named in its description.</summary>
    private static readonly (string Name, JsonSchemaType Type, string Description)[] ExtensionMembers =
    [
        ("command", JsonSchemaType.String, "Command failures: the ad-hoc command node that failed (create, terminate, cancel, transfer)."),
        ("component", JsonSchemaType.String, "Command failures: the Active-Calls component's JID."),
        ("xmppCondition", JsonSchemaType.String, "Command failures answered with a stanza error: its defined condition (e.g. bad-request, item-not-found)."),
        ("xmppApplicationCondition", JsonSchemaType.String, "Command failures answered with a stanza error: its application condition (e.g. bad-payload, bad-action), if any."),
        ("xmppApplicationNamespace", JsonSchemaType.String, "The namespace of xmppApplicationCondition."),
        ("xmppText", JsonSchemaType.String, "Command failures answered with a stanza error: its text, if any (also the detail)."),
        ("outcomeUnknown", JsonSchemaType.Boolean, "xmpp-unavailable: true when the connection was lost after the command was sent, so it may have been carried out."),
        ("circuitOpen", JsonSchemaType.Boolean, "component-unavailable: true when commands are paused by the circuit breaker."),
        ("callSetupId", JsonSchemaType.String, "The call-setup-id concerned (call-setup-id-in-use, create-outcome-unknown, failures of a create)."),
        ("callId", JsonSchemaType.String, "call-not-connected: the call's id."),
        ("from", JsonSchemaType.String, "from-not-followed: the 'from' no followed user covers."),
        ("member", JsonSchemaType.String, "destination-not-allowed: the request member holding the destination (to, from, target)."),
        ("destination", JsonSchemaType.String, "destination-not-allowed: the destination the API key may not call."),
        ("address", JsonSchemaType.String, "followed-user-*: the followed user's address."),
    ];

    /// <summary>Adds the problem schemas and points every problem+json response at them: a 400 is a
    /// <c>ValidationProblem</c> (validation-failed) or a <c>Problem</c> (malformed-request, invalid-idempotency-key).</summary>
    public static void Apply(OpenApiDocument document)
    {
        document.Components ??= new OpenApiComponents();
        var schemas = document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        foreach (var name in FrameworkSchemas) schemas.Remove(name);
        schemas[Code] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "The problem's stable code (also the last segment of its type URI); clients branch on it, never on detail.",
            Enum = [.. ProblemTypes.All.Select(type => (JsonNode)JsonValue.Create(type.Code))],
        };
        schemas[Problem] = Shape(document, "A problem (RFC 9457) as the gateway sends it.", withErrors: false);
        schemas[ValidationProblem] = Shape(document, "validation-failed: the request is invalid; errors lists the messages per invalid field.", withErrors: true);

        foreach (var operation in (document.Paths ?? []).Values.SelectMany(p => p.Operations ?? []).Select(o => o.Value))
        {
            foreach (var (status, response) in operation.Responses ?? [])
            {
                if (response.Content?.TryGetValue(MediaType, out var media) != true || media is not OpenApiMediaType concrete) continue;
                concrete.Schema = status == "400"
                    ? new OpenApiSchema { OneOf = [new OpenApiSchemaReference(ValidationProblem, document), new OpenApiSchemaReference(Problem, document)] }
                    : new OpenApiSchemaReference(Problem, document);
            }
        }
    }

    private static OpenApiSchema Shape(OpenApiDocument document, string description, bool withErrors)
    {
        var properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = Member(JsonSchemaType.String, "urn:active-calls-gateway:problem:{code}."),
            ["title"] = Member(JsonSchemaType.String, "A short summary of the problem's type."),
            ["status"] = Member(JsonSchemaType.Integer, "The HTTP status."),
            ["detail"] = Member(JsonSchemaType.String, "What went wrong in this occurrence, for people."),
            ["instance"] = Member(JsonSchemaType.String, "The request's path."),
            ["code"] = new OpenApiSchemaReference(Code, document),
            ["traceId"] = Member(JsonSchemaType.String, "Identifies the request in the gateway's logs and traces."),
        };
        HashSet<string> required = ["type", "title", "status", "instance", "code", "traceId"];
        if (withErrors)
        {
            properties["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "The messages per invalid field (the request member, query parameter or header).",
                AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
            };
            required.Add("errors");
        }
        else
        {
            foreach (var (name, type, memberDescription) in ExtensionMembers) properties[name] = Member(type, memberDescription);
            properties["xmppErrorType"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "Command failures answered with a stanza error: its type.",
                Enum = [.. Enum.GetNames<StanzaErrorType>().Select(name => (JsonNode)JsonValue.Create(name.ToLowerInvariant()))],
            };
            properties["state"] = new OpenApiSchemaReference("CallState", document);
        }
        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = description,
            Properties = properties,
            Required = required,
            AdditionalPropertiesAllowed = false,
        };
    }

    private static OpenApiSchema Member(JsonSchemaType type, string description) => new() { Type = type, Description = description };
}
