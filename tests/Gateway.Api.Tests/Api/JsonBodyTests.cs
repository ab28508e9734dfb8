using System.Text;
using System.Text.Json;
using Gateway.Api.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Api.Tests.Api;

/// <summary><see cref="JsonBody{T}"/> on its own, with a request type that nests an object (no endpoint has one yet):
/// nested members are named by their JSON path, and a member given twice is refused at any depth.</summary>
public sealed class JsonBodyTests
{
    public sealed record Outer
    {
        public string? Name { get; init; }
        public Inner? Inner { get; init; }
        public IReadOnlyList<string>? Tags { get; init; }
    }

    public sealed record Inner
    {
        public string? X { get; init; }
    }

    private static ValueTask<TBody?> BindAsync<TBody>(HttpContext context) where TBody : class, IBindableFromHttpContext<TBody> =>
        TBody.BindAsync(context, null!);

    private static Task<JsonBody<Outer>?> ReadAsync(string json, string contentType = "application/json")
    {
        var services = new ServiceCollection();
        services.AddOptions<JsonOptions>().Configure(o => o.SerializerOptions.ApplyClientRules());
        var context = new DefaultHttpContext { RequestServices = services.BuildServiceProvider() };
        context.Request.Method = "POST";
        context.Request.ContentType = contentType;
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(json));
        return BindAsync<JsonBody<Outer>>(context).AsTask();
    }

    private static async Task<JsonBodyError> RefusedAsync(string json)
    {
        var e = await Assert.ThrowsAsync<BadHttpRequestException>(() => ReadAsync(json));
        Assert.Equal(400, e.StatusCode);
        return JsonBodyErrors.Describe(Assert.IsAssignableFrom<JsonException>(e.InnerException));
    }

    [Fact]
    public async Task AWellFormedBodyIsBoundWithNoErrors()
    {
        var body = await ReadAsync("""{"name":"n","inner":{"x":"a"},"tags":["t"]}""");

        Assert.Equal("n", body!.Value!.Name);
        Assert.Equal(new Inner { X = "a" }, body.Value.Inner);
        Assert.Equal(["t"], body.Value.Tags!);
        Assert.Empty(body.Errors);
    }

    [Fact]
    public async Task EveryUnknownOrMistypedMemberIsListedByItsPathAndTheOthersAreBound()
    {
        var body = await ReadAsync("""{"name":5,"inner":{"x":"a","y":1},"tags":["t",2],"extra":true,"Extra":false}""");

        Assert.Equal(new Dictionary<string, string[]>
        {
            ["name"] = ["has the wrong JSON type (expected a string)."],
            ["inner.y"] = ["is not a member of this request."],
            ["tags[1]"] = ["has the wrong JSON type (expected a string)."],
            ["extra"] = ["is not a member of this request."],
            ["Extra"] = ["is not a member of this request."],
        }, body!.Errors);
        Assert.Equal(new Outer(), body.Value);
    }

    [Fact]
    public async Task TheFieldErrorsOfTheHandlerAreMergedAndAMemberTheBodyRefusedKeepsTheBodysMessage()
    {
        var body = await ReadAsync("""{"name":5,"extra":true}""");

        var merged = body!.Merge(new Dictionary<string, string[]> { ["name"] = ["is required."], ["tags"] = ["is required."] });

        Assert.Equal(["has the wrong JSON type (expected a string)."], merged["name"]);
        Assert.Equal(["is required."], merged["tags"]);
        Assert.Equal(["is not a member of this request."], merged["extra"]);
    }

    [Theory]
    [InlineData("""{"name":"a","name":"b"}""", "name")]
    [InlineData("""{"name":"a","NAME":"b"}""", "NAME")]
    [InlineData("""{"inner":{"x":"a","x":"b"}}""", "inner.x")]
    [InlineData("""{"inner":{"x":"a","X":"b"}}""", "inner.X")]
    public async Task AMemberGivenTwiceRefusesTheBodyNamingItsPath(string json, string path)
    {
        var error = await RefusedAsync(json);

        Assert.Equal(new JsonBodyError(path, JsonBodyErrors.GivenMoreThanOnce,
            $"The member '{path}' is given more than once (member names are matched case-insensitively); send each member once."), error);
    }

    [Fact]
    public async Task AnUnknownMemberGivenTwiceIsNamedAsUnknown()
    {
        var body = await ReadAsync("""{"extra":1,"extra":2}""");

        Assert.Equal(["is not a member of this request."], Assert.Single(body!.Errors, e => e.Key == "extra").Value);
    }

    [Theory]
    [InlineData("""{"name":""")]
    [InlineData("""["name"]""")]
    [InlineData("""{"name":"a",}""")]
    public async Task ABodyThatIsNotAJsonObjectIsRefusedAsAWhole(string json)
    {
        Assert.Equal(new JsonBodyError("body", JsonBodyErrors.NotJson), await RefusedAsync(json));
    }

    [Fact]
    public async Task NullIsNoValueAndNoError()
    {
        var body = await ReadAsync("null");

        Assert.Null(body!.Value);
        Assert.Empty(body.Errors);
    }

    [Fact]
    public async Task ABodyThatIsNotJsonIs415()
    {
        var e = await Assert.ThrowsAsync<BadHttpRequestException>(() => ReadAsync("name=a", "application/x-www-form-urlencoded"));

        Assert.Equal(415, e.StatusCode);
    }
}
