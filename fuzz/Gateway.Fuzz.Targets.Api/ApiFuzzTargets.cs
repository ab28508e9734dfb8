using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Api.Calls;
using Gateway.Api.Configuration;
using Gateway.Api.Hosting;
using Gateway.Api.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Fuzz.Targets.Api;

/// <summary>
/// The fuzz target of the REST API's JSON request bodies: bound as minimal APIs bind them, with the serializer options
/// the application registers, then validated as the endpoints validate them, before any XMPP traffic. A body that
/// does not bind goes to the application's exception handler, as it does with <c>ThrowOnBadRequest</c>.
/// </summary>
public static class ApiFuzzTargets
{
    private static readonly Lazy<Application> App = new(Application.Resolve);

    private static readonly WebhookTargetGuard StrictTargets = new(Options.Create(new WebhookOptions()));
    private static readonly WebhookTargetGuard PermissiveTargets = new(Options.Create(new WebhookOptions { AllowPrivateTargets = true }));

    /// <summary>
    /// <c>json-request</c>: one request body, bound to each body type the API accepts (<see cref="CreateCallRequest"/>
    /// for <c>POST /calls</c>, <see cref="TransferCallRequest"/> for <c>POST /calls/{id}/transfer</c>,
    /// <see cref="CreateWebhookRequest"/> for <c>POST /webhooks</c>) and run through that endpoint's validation:
    /// <see cref="CallValidation"/>, <see cref="WebhookValidation"/> and <see cref="WebhookTargetGuard.CheckAsync"/> (only
    /// for IP-literal hosts with the address check on, so no name is ever resolved).
    /// </summary>
    /// <remarks>Expected: <see cref="JsonException"/> from binding, and a body that binds to null: minimal APIs throw
    /// <see cref="BadHttpRequestException"/> for either, which the application's exception handler turns into a 400
    /// problem (run here too). A body over <see cref="HttpApiOptions.MaxRequestBodyBytes"/> never reaches binding.
    /// Validation reports errors in its result and throws nothing.</remarks>
    public static bool JsonRequests(ReadOnlySpan<byte> input)
    {
        var app = App.Value;
        if (input.Length > app.MaxBodyBytes) return false;
        bool accepted = false;

        if (app.Bind<CreateCallRequest>(input, "request") is { } create)
        {
            var errors = CallValidation.ValidateCreate(create, out var from, out var to, out var callSetupId);
            if (errors.Count == 0)
            {
                accepted = true;
                if (SipUri.AddressOf(from) is null || SipUri.AddressOf(to) is null)
                    throw new FuzzOracleException($"A valid create names an address the registry cannot read: {from} / {to}");
                if (callSetupId is not null && !CallValidation.IsCallSetupId(callSetupId))
                    throw new FuzzOracleException($"A valid create carries call-setup-id '{callSetupId}'.");
            }
        }

        if (app.Bind<TransferCallRequest>(input, "request") is { } transfer)
        {
            var errors = CallValidation.ValidateTransfer(transfer, out _, out var target);
            if (errors.Count == 0)
            {
                accepted = true;
                if (SipUri.AddressOf(target) is null) throw new FuzzOracleException($"A valid transfer target has no address: {target}");
            }
        }

        if (app.Bind<CreateWebhookRequest>(input, "request") is { } webhook)
        {
            var errors = WebhookValidation.ValidateCreate(webhook, out _, out _);
            var (_, urlError) = CheckUrl(webhook.Url);
            accepted |= errors.Count == 0 && urlError is null;
        }
        return accepted;
    }

    private static (Uri? Url, string? Error) CheckUrl(string? url)
    {
        // The strict guard resolves host names; only IP literals (and URLs refused before any lookup) go to it.
        bool literal = url is not null && Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) && IPAddress.TryParse(uri.DnsSafeHost, out _);
        bool refusedEarly = url is null || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out _);
        var guard = literal || refusedEarly ? StrictTargets : PermissiveTargets;
        var check = guard.CheckAsync(url, CancellationToken.None);
        if (!check.IsCompleted) throw new FuzzOracleException($"Checking '{url}' went to the network.");
        return check.GetAwaiter().GetResult();
    }

    /// <summary>The application's services, registered exactly as <c>Program</c> does (nothing is started).</summary>
    private sealed class Application
    {
        private readonly IServiceProvider _services;
        private readonly IExceptionHandler[] _exceptionHandlers;

        private Application(IServiceProvider services)
        {
            _services = services;
            _exceptionHandlers = [.. services.GetServices<IExceptionHandler>()];
            Json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            Json.MakeReadOnly(populateMissingResolver: true);
            MaxBodyBytes = services.GetRequiredService<IOptions<HttpApiOptions>>().Value.MaxRequestBodyBytes;
        }

        /// <summary>The options the application's minimal APIs bind JSON bodies with.</summary>
        public JsonSerializerOptions Json { get; }

        public int MaxBodyBytes { get; }

        public static Application Resolve()
        {
            var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
            builder.AddGatewayApi();
            return new Application(builder.Services.BuildServiceProvider());
        }

        /// <summary>As <c>RequestDelegateFactory</c> binds a required JSON body parameter with <c>ThrowOnBadRequest</c>:
        /// a <see cref="JsonException"/> or a null value becomes a <see cref="BadHttpRequestException"/>, which the
        /// exception handler answers; the handler never runs.</summary>
        public T? Bind<T>(ReadOnlySpan<byte> body, string parameterName) where T : class
        {
            string parameter = typeof(T).Name + " " + parameterName;
            try
            {
                if (JsonSerializer.Deserialize(body, (JsonTypeInfo)Json.GetTypeInfo(typeof(T))) is T value) return value;
                HandleBadRequest(new BadHttpRequestException($"Required parameter \"{parameter}\" was not provided from body.", StatusCodes.Status400BadRequest));
            }
            catch (JsonException e)
            {
                HandleBadRequest(new BadHttpRequestException($"Failed to read parameter \"{parameter}\" from the request body as JSON.", StatusCodes.Status400BadRequest, e));
            }
            return null;
        }

        private void HandleBadRequest(BadHttpRequestException exception)
        {
            var context = new DefaultHttpContext { RequestServices = _services };
            context.Request.Method = HttpMethods.Post;
            context.Request.Path = "/calls";
            context.Response.Body = new MemoryStream();
            foreach (var handler in _exceptionHandlers)
            {
                if (handler.TryHandleAsync(context, exception, CancellationToken.None).AsTask().GetAwaiter().GetResult()) break;
            }
            if (context.Response.StatusCode != StatusCodes.Status400BadRequest)
                throw new FuzzOracleException($"A body that does not bind was answered {context.Response.StatusCode}, not 400: {exception.InnerException?.Message ?? exception.Message}");
        }
    }
}

/// <summary>A consistency check of the JSON target failed (see the Xmpp targets' class of the same name).</summary>
public sealed class FuzzOracleException : Exception
{
    public FuzzOracleException() { }
    public FuzzOracleException(string message) : base(message) { }
    public FuzzOracleException(string message, Exception innerException) : base(message, innerException) { }
}
