using ActiveCalls.Sip.CallControl;
using ActiveCalls.Sip.Tests.Infrastructure;
using Gateway.Testing.Sip;

namespace ActiveCalls.Sip.Tests.EndToEnd;

/// <summary>The engine on a loopback socket with short timers, a recording observer, and the sipp phones it talks to.</summary>
internal sealed class EngineHarness : IAsyncDisposable
{
    private readonly List<SippPhone> _phones = [];

    public EngineHarness(Action<SipOptions>? configure = null)
    {
        Options = new SipOptions
        {
            BindAddress = "127.0.0.1",
            Port = 0,
            T1 = TimeSpan.FromMilliseconds(50),
            T2 = TimeSpan.FromMilliseconds(400),
            T4 = TimeSpan.FromMilliseconds(500),
            TimerD = TimeSpan.FromSeconds(1),
            RingTimeout = TimeSpan.FromSeconds(10),
            LocalDomains = ["127.0.0.1"],
        };
        configure?.Invoke(Options);
        Engine = new ThirdPartyCallControlEngine(Options, Observer);
    }

    public SipOptions Options { get; }

    public RecordingLegObserver Observer { get; } = new();

    public ThirdPartyCallControlEngine Engine { get; }

    public async Task<SippPhone> PhoneAsync(string scenario, string user, params string[] extra)
    {
        var phone = await SippPhone.StartAsync(scenario, user, extra);
        _phones.Add(phone);
        return phone;
    }

    public Task CreateAsync(SippPhone from, SippPhone to, string callSetupId = "abcd1234") =>
        Engine.CreateAsync(new CallSetup(from.Uri, to.Uri, callSetupId, "tester@example.com"), TestContext.Current.CancellationToken);

    /// <summary>Waits until no call, leg, dialog, INVITE or transaction is left.</summary>
    public async Task AssertNothingLeftAsync()
    {
        var ua = Engine.UserAgent;
        for (int i = 0; i < 500; i++)
        {
            if (Engine.ActiveCallCount == 0 && ua.DialogCount == 0 && ua.TransactionCount == 0 && ua.InviteCount == 0) break;
            await Task.Delay(20);
        }
        Assert.Equal(0, Engine.ActiveCallCount);
        Assert.Empty(Observer.LiveItems());
        Assert.Equal(0, ua.DialogCount);
        Assert.Equal(0, ua.InviteCount);
        Assert.Equal(0, ua.TransactionCount);
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        foreach (var p in _phones) await p.DisposeAsync();
    }
}
