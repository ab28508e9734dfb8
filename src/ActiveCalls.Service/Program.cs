using ActiveCalls.Service.Hosting;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddActiveCallsService();
await builder.Build().RunAsync();
