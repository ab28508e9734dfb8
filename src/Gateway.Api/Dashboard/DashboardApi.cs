using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Dashboard;

/// <summary>What the page needs to know before the user enters a key.</summary>
public sealed record DashboardSettings(
    [property: Description("An API key to fill in (Development only); null otherwise.")] string? DevApiKey);

/// <summary>The live dashboard: <c>wwwroot/index.html</c> at <c>/</c> (static assets, no key needed: the page asks the user
/// for one and sends it with every API call) and <c>/dashboard/settings</c>.</summary>
public static class DashboardApi
{
    public const string PagePath = "/index.html";

    // The page loads only its own scripts and styles and talks only to its own origin (REST and the hub's WebSocket):
    // anything injected into it can neither run inline nor send the key elsewhere.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>Serves <c>/</c> as <c>/index.html</c> (before routing, which then matches the static asset) and gives the
    /// page its security headers.</summary>
    public static IApplicationBuilder UseDashboard(this IApplicationBuilder app)
    {
        app.UseDefaultFiles();
        return app.Use((context, next) =>
        {
            if (context.Request.Path.Equals(PagePath, StringComparison.OrdinalIgnoreCase))
            {
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
            }
            return next(context);
        });
    }

    public static RouteGroupBuilder MapDashboardApi(this IEndpointRouteBuilder app)
    {
        // The assets are this assembly's (wwwroot), whichever host composes the gateway: name its manifest rather than
        // the default, which follows the host's application name.
        app.MapStaticAssets($"{typeof(DashboardApi).Assembly.GetName().Name}.staticwebassets.endpoints.json");
        var group = app.MapGroup("/dashboard").AllowAnonymous().ExcludeFromDescription();
        group.MapGet("/settings", GetSettings).WithName("GetDashboardSettings");
        return group;
    }

    public static Ok<DashboardSettings> GetSettings(IOptions<DashboardOptions> options, HttpResponse response)
    {
        response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new DashboardSettings(string.IsNullOrEmpty(options.Value.DevApiKey) ? null : options.Value.DevApiKey));
    }
}
