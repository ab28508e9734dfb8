using Gateway.Api.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddGatewayApi();

var app = builder.Build();
app.UseGatewayApi();
app.MapGatewayEndpoints();
app.Run();

/// <summary>Visible to <c>WebApplicationFactory&lt;Program&gt;</c> in the tests.</summary>
public partial class Program;
