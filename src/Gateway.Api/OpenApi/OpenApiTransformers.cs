using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Api.Auth;
using Gateway.Api.Errors;
using Gateway.Api.Idempotency;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Gateway.Api.OpenApi;

internal static class OpenApiTransformers
{
    public const string DocumentName = "v1";

    public static OpenApiOptions AddGatewayTransformers(this OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Active-Calls Gateway",
                Version = "v1",
                Description =
                    "Place, hang up and transfer phone calls with plain JSON. Each command is one XEP-0050 command IQ to an " +
                    "OnSIP-style Active-Calls service; call progress comes from its PubSub events.\n\n" +
                    "Authenticate with 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'. Every error is " +
                    "application/problem+json with a stable 'type' (" + ProblemType.TypePrefix + "<code>) and 'code'; XMPP failures " +
                    "add 'xmppCondition', 'xmppErrorType', 'xmppApplicationCondition' and 'xmppText'. 503 and 429 carry Retry-After.",
            };
            // The document must not depend on the host it is served from: openapi.yaml is compared with it.
            document.Servers = [];
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["Bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The API key as a bearer token.",
            };
            document.Components.SecuritySchemes["ApiKey"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyDefaults.HeaderName,
                Description = "The API key in a header.",
            };
            NullableEnumSchemas.Apply(document);
            ProblemSchemas.Apply(document);
            return Task.CompletedTask;
        });

        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var jsonOptions = context.ApplicationServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;

            if (metadata.OfType<IAuthorizeData>().Any())
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("Bearer", context.Document)] = [] });
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", context.Document)] = [] });
            }

            if (metadata.OfType<IdempotentAttribute>().Any())
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = IdempotencyMiddleware.HeaderName,
                    In = ParameterLocation.Header,
                    Required = false,
                    Description = "Makes retries safe: the first response is stored (per API key) and replayed to repeats with " +
                                  "the same body, with 'Idempotency-Replayed: true'; a repeat with another body is 422 idempotency-key-reused. " +
                                  "1-255 visible ASCII characters, e.g. a UUID.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
                });
            }

            foreach (var example in metadata.OfType<OpenApiExampleMetadata>())
            {
                var node = JsonSerializer.SerializeToNode(example.Example, example.Example.GetType(), jsonOptions);
                if (example.StatusCode is null)
                {
                    if (operation.RequestBody?.Content is { } content)
                        foreach (var media in content.Values) media.Example = node;
                }
                else if (operation.Responses?.TryGetValue(example.StatusCode.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response) == true &&
                         response.Content is { } responseContent)
                {
                    foreach (var media in responseContent.Values) media.Example = node?.DeepClone();
                }
            }

            ProblemResponses.AddImplicit(operation, metadata);

            if (operation.Responses is { } responses)
            {
                foreach (var described in metadata.OfType<OpenApiResponseDescription>())
                {
                    if (responses.TryGetValue(described.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response) &&
                        response is OpenApiResponse concrete) concrete.Description = described.Description;
                }
                foreach (var (status, response) in responses)
                {
                    // Replace the bare reason phrases with what the status means here.
                    if (!int.TryParse(status, out var code) ||
                        (!string.IsNullOrEmpty(response.Description) && response.Description != Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(code))) continue;
                    if (response is OpenApiResponse concrete) concrete.Description = Describe(code);
                }
            }
            return Task.CompletedTask;
        });
        return options;
    }

    private static string Describe(int status) => status switch
    {
        200 => "OK",
        201 => "Created.",
        202 => "Accepted: the command was accepted by the Active-Calls service; follow the call's state and events.",
        204 => "Done.",
        400 => "Invalid input (validation-failed with per-field errors, malformed-request, invalid-idempotency-key); nothing was sent.",
        401 => "No API key, or not a valid one (unauthorized).",
        403 => "The API key does not cover the addresses (out-of-scope), or the service refused (component-forbidden).",
        404 => "Unknown call (call-not-found).",
        409 => "call-setup-id-in-use or call-not-connected.",
        413 => "The body exceeds Gateway:Http:MaxRequestBodyBytes (payload-too-large).",
        415 => "The body is not application/json (unsupported-media-type).",
        422 => "command-rejected / command-failed (the component's text is the detail), or idempotency-key-reused.",
        429 => "Rate or concurrency limit of the API key (rate-limited); see Retry-After.",
        500 => "The gateway failed unexpectedly (internal-error); the traceId identifies the failure in its logs.",
        502 => "The Active-Calls service failed (component-error).",
        503 => "No XMPP connection, component not connected, or circuit breaker open (xmpp-unavailable, component-unavailable); see Retry-After.",
        504 => "The Active-Calls service did not answer within the IQ timeout (component-timeout; the command may have been carried out), " +
               "or the request took longer than Gateway:Http:RequestTimeout (request-timeout).",
        _ => "See the problem's code.",
    };
}
