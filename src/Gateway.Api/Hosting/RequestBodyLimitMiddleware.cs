using Gateway.Api.Configuration;
using Gateway.Api.Errors;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Gateway.Api.Hosting;

/// <summary>
/// Caps request bodies at <see cref="HttpApiOptions.MaxRequestBodyBytes"/> on every server (Kestrel's own limit is set
/// too when the server has one): a declared length over the cap is refused at once with 413; a body without a length
/// fails with 413 as soon as it reads past the cap.
/// </summary>
internal sealed class RequestBodyLimitMiddleware(RequestDelegate next, IOptions<HttpApiOptions> options, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var max = options.Value.MaxRequestBodyBytes;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature) feature.MaxRequestBodySize = max;
        if (context.Request.ContentLength > max)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = Problems.Create(ProblemTypes.PayloadTooLarge, $"The request body must be at most {max} bytes."),
            });
            return;
        }
        context.Request.Body = new LimitedStream(context.Request.Body, max);
        // Readers of the pipe (JSON binding) must see the capped stream too, whatever server provided the pipe.
        context.Features.Set<IRequestBodyPipeFeature>(new RequestBodyPipeFeature(context));
        await next(context);
    }

    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int read)
        {
            _read += read;
            if (_read > limit) throw new BadHttpRequestException($"The request body must be at most {limit} bytes.", StatusCodes.Status413PayloadTooLarge);
            return read;
        }
    }
}
