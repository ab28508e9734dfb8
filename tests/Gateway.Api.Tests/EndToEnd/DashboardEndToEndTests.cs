using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Gateway.Api.Tests.Infrastructure;
using Gateway.Testing.Prosody;
using Microsoft.Playwright;
using static Gateway.Api.Tests.EndToEnd.EndToEndStack;
using static Microsoft.Playwright.Assertions;

namespace Gateway.Api.Tests.EndToEnd;

/// <summary>
/// The dashboard in a real browser (Debian's headless Chromium, driven by Playwright) against the whole system
/// (<see cref="EndToEndStack"/> with the gateway on Kestrel): what a user types and clicks, and what the page then shows,
/// found the way a user (or a screen reader) finds it: by role, label and text.
/// </summary>
[Collection(ProsodyCollection.Name)]
public sealed class DashboardEndToEndTests(ProsodyFixture prosody) : IAsyncLifetime
{
    // Events travel SIP -> reference service -> PubSub -> gateway -> hub -> page: wait generously, never for a set time.
    private static readonly LocatorAssertionsToBeVisibleOptions Eventually = new() { Timeout = 30_000 };
    private readonly EndToEndStack _stack = new(prosody) { OnKestrel = true };
    private ChromiumSession? _browser;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            if (TestContext.Current.TestState?.Result is TestResult.Failed) await _browser.AttachPageAsync("dashboard");
            await _browser.DisposeAsync();
        }
        await _stack.DisposeAsync();
    }

    /// <summary>Opens the dashboard (at the gateway, or where <paramref name="address"/> says) and, given a key, connects
    /// with it and waits for the live connection.</summary>
    private async Task<IPage> OpenDashboardAsync(string? key = GatewayFactory.AdminKey, Uri? address = null)
    {
        _browser = await ChromiumSession.StartAsync();
        var page = _browser.Page;
        await page.GotoAsync((address ?? _stack.GatewayAddress).ToString());
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Active calls", Level = 1 })).ToBeVisibleAsync();
        if (key is not null)
        {
            await page.GetByLabel("API key").FillAsync(key);
            await page.GetByRole(AriaRole.Button, new() { Name = "Connect" }).ClickAsync();
            await Expect(ConnectionStatus(page)).ToHaveTextAsync("Connected", new() { Timeout = 30_000 });
        }
        return page;
    }

    private static ILocator ConnectionStatus(IPage page) => page.GetByRole(AriaRole.Region, new() { Name = "Connection" }).GetByRole(AriaRole.Status);

    private static ILocator CallCard(IPage page, string list, string from, string to) =>
        page.GetByRole(AriaRole.List, new() { Name = list }).GetByRole(AriaRole.Article, new() { Name = $"{from} to {to}", Exact = true });

    private static async Task PlaceCallAsync(IPage page, string from, string to)
    {
        await page.GetByLabel("From").FillAsync(from);
        await page.GetByLabel("To", new() { Exact = true }).FillAsync(to);
        await page.GetByRole(AriaRole.Button, new() { Name = "Place call" }).ClickAsync();
    }

    /// <summary>The event names on a call's progress list, in the order shown.</summary>
    private static async Task<List<string>> ProgressAsync(ILocator card) =>
        [.. await card.GetByRole(AriaRole.List, new() { Name = "Progress" }).Locator(".event-name").AllInnerTextsAsync()];

    /// <summary>axe-core's WCAG 2.1 A and AA rules find nothing on the page as it is now.</summary>
    private static async Task AssertAccessibleAsync(IPage page)
    {
        var result = await page.RunAxe(new AxeRunOptions
        {
            RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
        });
        Assert.True(result.Violations.Length == 0, string.Join("\n", result.Violations.Select(v =>
            $"{v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => n.Target?.ToString()))}")));
        Assert.NotEmpty(result.Passes);
    }

    /// <summary>No script error, CSP violation or failed load on the page, but for the refusals a test provoked.</summary>
    private void AssertNoPageErrors(params string[] provoked) => Assert.Equal(provoked, _browser!.Errors);

    [Fact]
    public async Task AWrongKeyIsRefusedReadablyAndTheRightOneConnects()
    {
        await _stack.StartAsync();
        var page = await OpenDashboardAsync(key: null);

        await page.GetByLabel("API key").FillAsync("not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Connect" }).ClickAsync();

        var alert = page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("Connecting failed: A valid API key is required. (401, unauthorized)");
        await Expect(alert).ToContainTextAsync("The API key is not valid.");
        await Expect(ConnectionStatus(page)).ToContainTextAsync("Not connected");

        await page.GetByLabel("API key").FillAsync(GatewayFactory.AdminKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Connect" }).ClickAsync();

        await Expect(ConnectionStatus(page)).ToHaveTextAsync("Connected", new() { Timeout = 30_000 });
        await Expect(alert).ToBeHiddenAsync();
        await Expect(page.GetByText("No active calls.")).ToBeVisibleAsync();
        AssertNoPageErrors("console: Failed to load resource: the server responded with a status of 401 (Unauthorized)");
    }

    [Fact]
    public async Task ACallPlacedFromThePageConnectsAndEndsLiveWhenHungUpFromThePage()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        var page = await OpenDashboardAsync();
        var navigations = 0;
        page.FrameNavigated += (_, frame) => { if (frame == page.MainFrame) navigations++; };

        // Bad input first: the gateway's problem+json shows as the API wrote it, field by field.
        await PlaceCallAsync(page, Alice, "bob");
        var alert = page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("Placing the call failed: ");
        await Expect(alert).ToContainTextAsync("(400, validation-failed)");
        await Expect(alert.GetByRole(AriaRole.Listitem).Filter(new() { HasText = "to:" })).ToBeVisibleAsync();

        await PlaceCallAsync(page, Alice, Bob);

        await Expect(alert).ToBeHiddenAsync();
        var active = CallCard(page, "Active calls", Alice, Bob);
        await Expect(active.GetByText("State: connected")).ToBeVisibleAsync(Eventually);
        // Leg changes that leave the call's state alone arrive as call.updated: both of bob's legs (alice's phone calling
        // him, his phone answering) show as answered, and alice's call-setup leg as gone, without a reload.
        await Expect(active.GetByRole(AriaRole.Row, new() { Name = $"callee {Bob} confirmed yes" })).ToHaveCountAsync(2, new() { Timeout = 30_000 });
        await Expect(active.GetByRole(AriaRole.Row, new() { Name = $"caller {Alice} confirmed no" })).ToBeVisibleAsync(Eventually);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Active calls (1)" })).ToBeVisibleAsync();
        await AssertAccessibleAsync(page);

        await active.GetByRole(AriaRole.Button, new() { Name = "Hang up" }).ClickAsync();

        var ended = CallCard(page, "Recently ended", Alice, Bob);
        await Expect(ended.GetByText("State: ended (terminated)")).ToBeVisibleAsync(Eventually);
        await Expect(active).ToHaveCountAsync(0);
        await Expect(page.GetByText("No active calls.")).ToBeVisibleAsync();
        await Expect(ended.GetByRole(AriaRole.Button, new() { Name = "Hang up" })).ToHaveCountAsync(0);
        // Every state reached the page live, in order, without a reload.
        var progress = await ProgressAsync(ended);
        Assert.Equal(["requested", "caller-ringing", "caller-answered", "callee-ringing", "connected"], progress[..5]);
        Assert.Equal("ended", progress[^1]);
        Assert.Equal(0, navigations);
        await AssertAccessibleAsync(page);
        // The click really hung up both phones.
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        Assert.Equal("> BYE", bob.Flow()[^2]);
        AssertNoPageErrors("console: Failed to load resource: the server responded with a status of 400 (Bad Request)");
    }

    [Fact]
    public async Task ATransferFromThePageMovesTheCalleeToCarolAndTheCallerIsHungUp()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var carol = await _stack.PhoneAsync("answer", "carol");
        await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob), ("carol@activecalls.test", carol));
        var page = await OpenDashboardAsync();
        await PlaceCallAsync(page, Alice, Bob);
        var call = CallCard(page, "Active calls", Alice, Bob);
        await Expect(call.GetByText("State: connected")).ToBeVisibleAsync(Eventually);

        var transfer = call.GetByRole(AriaRole.Group, new() { Name = "Transfer" });
        await transfer.GetByLabel("Party to move").SelectOptionAsync("callee");
        await transfer.GetByLabel("Target").FillAsync(Carol);
        await transfer.GetByRole(AriaRole.Button, new() { Name = "Transfer" }).ClickAsync();

        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Transfer of the callee" })).ToContainTextAsync($"to {Carol} requested");
        await Expect(call.GetByRole(AriaRole.List, new() { Name = "Progress" })).ToContainTextAsync("transfer-requested", new() { Timeout = 30_000 });
        // The engine keeps bob, invites carol and hangs up alice.
        await alice.AssertSucceededAsync();
        Assert.Equal("> BYE", alice.Flow()[^2]);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!carol.Flow().Contains("> INVITE"))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), "carol never got an INVITE: " + string.Join(", ", carol.Flow()));
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        AssertNoPageErrors();
    }

    [Fact]
    public async Task AfterTheNetworkDropsThePageResubscribesAfterItsCursorAndShowsWhatItMissed()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        var api = await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        await using var network = TcpRelay.Start(_stack.GatewayAddress);
        var page = await OpenDashboardAsync(address: network.Address);
        var cursor = await page.Locator("#cursor-value").InnerTextAsync();

        network.Cut();
        await Expect(ConnectionStatus(page)).ToContainTextAsync("Reconnecting", new() { Timeout = 30_000 });
        // The whole call happens while the page is cut off.
        var placed = await api.PostJsonAsync("/calls", $$"""{"from":"{{Alice}}","to":"{{Bob}}"}""");
        var id = (string)(await placed.JsonAsync())["id"]!;
        await WaitForCallAsync(api, id, c => (string?)c["state"] == "connected", "connected");
        network.Restore();

        await Expect(ConnectionStatus(page)).ToHaveTextAsync($"Connected (resubscribed): reconnected; resumed after cursor {cursor}", new() { Timeout = 60_000 });
        var call = CallCard(page, "Active calls", Alice, Bob);
        await Expect(call.GetByText("State: connected")).ToBeVisibleAsync(Eventually);
        // The replay brought every missed event, in order and once.
        Assert.Equal(["requested", "caller-ringing", "caller-answered", "callee-ringing", "connected"], await ProgressAsync(call));

        await call.GetByRole(AriaRole.Button, new() { Name = "Hang up" }).ClickAsync();
        await Expect(CallCard(page, "Recently ended", Alice, Bob).GetByText("State: ended (terminated)")).ToBeVisibleAsync(Eventually);
    }

    [Fact]
    public async Task AfterAGatewayRestartThePageResumesAfterItsCursorAndCanStillHangUpTheCall()
    {
        var alice = await _stack.PhoneAsync("answer", "alice");
        var bob = await _stack.PhoneAsync("answer", "bob");
        await _stack.StartAsync(("alice@activecalls.test", alice), ("bob@activecalls.test", bob));
        await using var network = TcpRelay.Start(_stack.GatewayAddress);
        var page = await OpenDashboardAsync(address: network.Address);
        await PlaceCallAsync(page, Alice, Bob);
        var call = CallCard(page, "Active calls", Alice, Bob);
        await Expect(call.GetByText("State: connected")).ToBeVisibleAsync(Eventually);

        // A new gateway process on the same calls database: the page's cursor is still valid, so it resumes, no fresh snapshot.
        network.Cut();
        await _stack.RestartGatewayAsync();
        network.Restore(_stack.GatewayAddress);

        await Expect(ConnectionStatus(page)).ToContainTextAsync("resumed after cursor", new() { Timeout = 60_000 });
        await Expect(ConnectionStatus(page)).Not.ToContainTextAsync("fresh snapshot");
        await Expect(call.GetByText("State: connected")).ToBeVisibleAsync(Eventually);
        await call.GetByRole(AriaRole.Button, new() { Name = "Hang up" }).ClickAsync();

        var ended = CallCard(page, "Recently ended", Alice, Bob);
        await Expect(ended.GetByText("State: ended")).ToBeVisibleAsync(Eventually);
        Assert.Equal("ended", (await ProgressAsync(ended))[^1]);
        await alice.AssertSucceededAsync();
        await bob.AssertSucceededAsync();
    }
}
