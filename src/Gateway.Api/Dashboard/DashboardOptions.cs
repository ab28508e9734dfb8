using Microsoft.Extensions.Options;

namespace Gateway.Api.Dashboard;

/// <summary><c>Gateway:Dashboard</c>: the live dashboard served at <c>/</c>.</summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Gateway:Dashboard";

    /// <summary>An API key the page fills in for the user. Development only: anyone who can open the page gets it.</summary>
    public string? DevApiKey { get; set; }
}

/// <summary>A prefilled key hands an API key to every visitor: it is refused outside Development.</summary>
internal sealed class DashboardOptionsValidator(IHostEnvironment environment) : IValidateOptions<DashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, DashboardOptions options) =>
        !string.IsNullOrEmpty(options.DevApiKey) && !environment.IsDevelopment()
            ? ValidateOptionsResult.Fail($"Gateway:Dashboard:DevApiKey is only allowed in the Development environment (this is '{environment.EnvironmentName}'): " +
                                         "the dashboard would hand the key to anyone who opens it. Remove the setting.")
            : ValidateOptionsResult.Success;
}
