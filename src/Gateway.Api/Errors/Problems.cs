using System.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.Api.Errors;

/// <summary>Builds problem+json bodies of a <see cref="ProblemType"/>: the one place that shapes them, used by the
/// endpoint handlers (expected outcomes), the exception handler, authentication and the rate limiter.</summary>
public static class Problems
{
    public static ProblemDetails Create(ProblemType type, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        var problem = new ProblemDetails { Type = type.Type, Title = type.Title, Status = type.Status, Detail = detail };
        problem.Extensions["code"] = type.Code;
        if (extensions is not null)
            foreach (var (key, value) in extensions)
                if (value is not null) problem.Extensions[key] = value;
        return problem;
    }

    public static ProblemHttpResult Result(ProblemType type, string? detail = null, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(Create(type, detail, extensions));

    public const string ValidationDetail = "See errors for each invalid field.";

    public static ValidationProblem Validation(IDictionary<string, string[]> errors, string? detail = null) =>
        TypedResults.ValidationProblem(errors, detail: detail ?? ValidationDetail,
            title: ProblemTypes.ValidationFailed.Title, type: ProblemTypes.ValidationFailed.Type,
            extensions: new Dictionary<string, object?> { ["code"] = ProblemTypes.ValidationFailed.Code });

    /// <summary>The body of <see cref="Validation"/>, for writers that are not endpoint results (the exception handler).</summary>
    public static HttpValidationProblemDetails ValidationDetails(IDictionary<string, string[]> errors, string? detail = null)
    {
        var problem = new HttpValidationProblemDetails(errors)
        {
            Type = ProblemTypes.ValidationFailed.Type,
            Title = ProblemTypes.ValidationFailed.Title,
            Status = ProblemTypes.ValidationFailed.Status,
            Detail = detail ?? ValidationDetail,
        };
        problem.Extensions["code"] = ProblemTypes.ValidationFailed.Code;
        return problem;
    }

    /// <summary>Fills what every problem carries: <c>code</c>, <c>type</c> and <c>title</c> for bare status codes,
    /// <c>instance</c> and <c>traceId</c>.</summary>
    internal static void Complete(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        if (!problem.Extensions.ContainsKey("code"))
        {
            var type = ProblemTypes.ForStatus(status);
            problem.Type = type.Type;
            problem.Title = type.Title;
            problem.Extensions["code"] = type.Code;
        }
        problem.Instance ??= context.HttpContext.Request.Path;
        problem.Extensions["traceId"] = Activity.Current?.Id ?? context.HttpContext.TraceIdentifier;
    }
}
