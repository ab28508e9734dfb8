using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Errors;

/// <summary>
/// Registered after the default writer: answers problem+json also to requests whose <c>Accept</c> names no JSON type
/// (an EventSource sends only <c>text/event-stream</c>), so a refused stream says why instead of failing with 500.
/// </summary>
internal sealed class AnyAcceptProblemDetailsWriter(IOptions<JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Problems.Complete(context);
        var problem = context.ProblemDetails;
        return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(problem, problem.GetType(), json.Value.SerializerOptions,
            "application/problem+json", context.HttpContext.RequestAborted));
    }
}
