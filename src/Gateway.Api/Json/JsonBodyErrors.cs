using System.Text.Json;
using System.Text.RegularExpressions;

namespace Gateway.Api.Json;

/// <summary>One problem of a JSON body: the member's JSON path (<c>from</c>, <c>eventTypes[1]</c>; <c>body</c> for the
/// body as a whole), the message for the per-field <c>errors</c>, and a <c>detail</c> when it deserves one.</summary>
public sealed record JsonBodyError(string Field, string Message, string? Detail = null);

/// <summary>What a <see cref="JsonException"/> of the serializer says about a request body, in the words of the
/// per-field <c>errors</c>. Used by <see cref="JsonBody{T}"/> for each member and by the exception handler for a body
/// refused as a whole.</summary>
public static partial class JsonBodyErrors
{
    public const string Body = "body";
    public const string NotAMember = "is not a member of this request.";
    public const string GivenMoreThanOnce = "is given more than once.";
    public const string NotJson = "is not valid JSON (or not a JSON object).";

    [GeneratedRegex("The JSON property '(?<name>[^']*)' could not be mapped")]
    private static partial Regex UnmappedMember();

    [GeneratedRegex("^Duplicate property '(?<name>[^']*)'")]
    private static partial Regex DuplicateMember();

    /// <summary>Describes <paramref name="exception"/>, thrown while reading the value at <paramref name="prefix"/>
    /// (a member's path; empty for the whole body) whose .NET type is <paramref name="expected"/> when known.</summary>
    public static JsonBodyError Describe(JsonException exception, string prefix = "", Type? expected = null)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(prefix);
        var relative = Relative(exception.Path);
        var path = Join(prefix, relative);
        if (DuplicateMember().Match(exception.Message) is { Success: true } duplicate)
        {
            // A typed object reports the member's path; inside a JsonElement value only the serializer's message names it.
            var field = relative is null ? Join(prefix, duplicate.Groups["name"].Value) : path;
            return new JsonBodyError(field, GivenMoreThanOnce,
                $"The member '{field}' is given more than once (member names are matched case-insensitively); send each member once.");
        }
        if (UnmappedMember().Match(exception.Message) is { Success: true } unmapped)
        {
            var name = unmapped.Groups["name"].Value;
            return new JsonBodyError(relative is not null && relative.EndsWith(name, StringComparison.Ordinal) ? path : Join(prefix, name), NotAMember);
        }
        if (path.Length == 0) return new JsonBodyError(Body, NotJson);
        return new JsonBodyError(path, expected is not null && Expected(expected, relative) is { } json
            ? $"has the wrong JSON type (expected {json})."
            : "has the wrong JSON type.");
    }

    /// <summary>A serializer path (<c>$</c>, <c>$.from</c>, <c>$[1]</c>) without its root: null for the root itself.</summary>
    private static string? Relative(string? path) => path switch
    {
        null or "$" or "" => null,
        _ when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        _ when path.StartsWith('$') => path[1..],
        _ => path,
    };

    private static string Join(string prefix, string? relative) => (prefix, relative) switch
    {
        (_, null) => prefix,
        ("", _) => relative,
        _ => relative.StartsWith('[') ? prefix + relative : prefix + "." + relative,
    };

    /// <summary>The JSON a member of type <paramref name="type"/> takes, or one element of it for a path <c>[n]</c> into
    /// it; null when the path goes deeper.</summary>
    private static string? Expected(Type type, string? relative) => relative switch
    {
        null => JsonKind(type),
        _ when relative.StartsWith('[') && relative.EndsWith(']') && relative.IndexOf(']', StringComparison.Ordinal) == relative.Length - 1 &&
               ElementType(type) is { } element => JsonKind(element),
        _ => null,
    };

    private static string JsonKind(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string)) return "a string";
        if (type == typeof(bool)) return "true or false";
        if (type.IsPrimitive || type == typeof(decimal)) return "a number";
        return ElementType(type) is null ? "an object" : "an array";
    }

    private static Type? ElementType(Type type) =>
        type == typeof(string) ? null
        : type.IsArray ? type.GetElementType()
        : type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
}
