using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Gateway.Api.Webhooks;

/// <summary>Describes the requests the gateway sends to subscribers, as an OpenAPI 3.1 <c>webhooks</c> entry.</summary>
internal static class WebhookOpenApi
{
    public static OpenApiOptions AddWebhookDescription(this OpenApiOptions options)
    {
        options.AddDocumentTransformer(async (document, context, cancellationToken) =>
        {
            var json = context.ApplicationServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            document.Components ??= new OpenApiComponents();
            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            var payload = await context.GetOrCreateSchemaAsync(typeof(WebhookPayload), null, cancellationToken);
            // The event is the one the REST API describes already: refer to it rather than repeat it inline.
            if (payload.Properties is { } properties && document.Components.Schemas.ContainsKey(nameof(Calls.CallEvent)))
                properties["data"] = new OpenApiSchemaReference(nameof(Calls.CallEvent), document);
            document.Components.Schemas[nameof(WebhookPayload)] = payload;
            document.Webhooks ??= new Dictionary<string, IOpenApiPathItem>();
            document.Webhooks["callEvent"] = new OpenApiPathItem
            {
                Operations = new Dictionary<HttpMethod, OpenApiOperation>
                {
                    [HttpMethod.Post] = new()
                    {
                        OperationId = "CallEventWebhook",
                        Summary = "A call event, sent to every matching subscription",
                        Description =
                            "Standard Webhooks (standardwebhooks.com). Verify before parsing: HMAC-SHA256 with the base64-decoded part of the " +
                            "subscription's whsec_ secret over \"{webhook-id}.{webhook-timestamp}.{raw body}\", base64, compared in constant time " +
                            "with each 'v1,' entry of webhook-signature; reject timestamps more than 5 minutes from your clock. Delivery is at least " +
                            "once and in order per subscription: drop repeats by webhook-id. Answer 2xx within Gateway:Webhooks:AttemptTimeout; " +
                            "anything else is retried on the backoff schedule, and 410 Gone disables the subscription.",
                        Tags = new HashSet<OpenApiTagReference> { new("Webhooks", document) },
                        Parameters =
                        [
                            Header("webhook-id", "The message id: the same on every attempt and re-delivery of this event to this subscription."),
                            Header("webhook-timestamp", "Unix seconds when this attempt was signed."),
                            Header("webhook-signature", "'v1,' + base64 signature; two space-separated entries while a rotated secret's overlap lasts."),
                        ],
                        RequestBody = new OpenApiRequestBody
                        {
                            Required = true,
                            Content = new Dictionary<string, OpenApiMediaType>
                            {
                                ["application/json"] = new()
                                {
                                    Schema = new OpenApiSchemaReference(nameof(WebhookPayload), document),
                                    Example = JsonSerializer.SerializeToNode(WebhookExamples.Payload, json),
                                },
                            },
                        },
                        Responses = new OpenApiResponses
                        {
                            ["2XX"] = new OpenApiResponse { Description = "Received: the delivery succeeded." },
                            ["410"] = new OpenApiResponse { Description = "Gone: the subscription is disabled; nothing more is sent to it." },
                            ["default"] = new OpenApiResponse { Description = "Any other answer, a timeout or no connection: the delivery is retried." },
                        },
                    },
                },
            };
        });
        return options;

        static OpenApiParameter Header(string name, string description) => new()
        {
            Name = name,
            In = ParameterLocation.Header,
            Required = true,
            Description = description,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        };
    }
}
