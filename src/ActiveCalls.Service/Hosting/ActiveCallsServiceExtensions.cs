using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ActiveCalls.Service.Hosting;

public static class ActiveCallsServiceExtensions
{
    /// <summary>Registers the reference Active-Calls service: options validated at start-up, then its components.</summary>
    public static IHostApplicationBuilder AddActiveCallsService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ActiveCallsServiceOptions>()
            .Bind(builder.Configuration.GetSection(ActiveCallsServiceOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddAuthAndPubSub();
        return builder;
    }
}
