using System.Globalization;
using System.Threading.RateLimiting;
using Gateway.Api.Auth;
using Gateway.Api.Configuration;
using Gateway.Api.Errors;
using Gateway.Api.Streaming;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Hosting;

/// <summary>What bounds a request: the per-key rate and concurrency limits, and the request timeout.</summary>
public static class RequestLimitsHostingExtensions
{
    /// <summary>Per API key: a token bucket (rate, burst) chained with a concurrency limit; 429 problem+json with
    /// Retry-After when either refuses. Requests without a key are not limited here (they get 401).</summary>
    public static IServiceCollection AddPerKeyLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<HttpApiOptions>>((limiter, http) =>
        {
            var o = http.Value;
            limiter.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(context => context.User.KeyName() is { } key
                    ? RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = o.Burst,
                        TokensPerPeriod = o.RequestsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                    : RateLimitPartition.GetNoLimiter("anonymous")),
                // A stream holds its request for as long as the client listens: only its connection attempt is limited.
                PartitionedRateLimiter.Create<HttpContext, string>(context => context.User.KeyName() is { } key &&
                                                                              context.GetEndpoint()?.Metadata.GetMetadata<LongLivedStreamAttribute>() is null
                    ? RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions { PermitLimit = o.ConcurrentRequestsPerKey, QueueLimit = 0 })
                    : RateLimitPartition.GetNoLimiter("anonymous")));
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                var http = context.HttpContext;
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                var detail = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out _)
                    ? $"This API key may make {o.RequestsPerSecond} requests per second (bursts of {o.Burst})."
                    : $"This API key may have {o.ConcurrentRequestsPerKey} requests in flight at once.";
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = Problems.Create(ProblemTypes.RateLimited, detail),
                });
            };
        });
        services.AddRequestTimeouts(_ => { });
        services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<HttpApiOptions>>((timeouts, http) =>
        {
            timeouts.DefaultPolicy = new RequestTimeoutPolicy
            {
                Timeout = http.Value.RequestTimeout,
                TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
                WriteTimeoutResponse = async context =>
                {
                    await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                    {
                        HttpContext = context,
                        ProblemDetails = Problems.Create(ProblemTypes.RequestTimeout, $"The request took longer than {http.Value.RequestTimeout.TotalSeconds:0.#} s."),
                    });
                },
            };
        });
        return services;
    }
}
