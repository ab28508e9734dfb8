using Microsoft.Playwright;

namespace Gateway.Api.Tests.Infrastructure;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>), headless, driven by Playwright: the Microsoft.Playwright package brings
/// its own driver, and no browser is ever downloaded. Each session has a fresh profile directory (deleted afterwards)
/// and records what the page reported as errors. If Chromium is missing the session fails with the command to install
/// it; it never skips.
/// </summary>
internal sealed class ChromiumSession : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    // Headless as root, and nothing that phones home: this machine's network refuses everything but loopback.
    private static readonly string[] Arguments =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private readonly IPlaywright _playwright;
    private readonly IBrowserContext _context;
    private readonly DirectoryInfo _profile;
    private readonly List<string> _errors = [];

    private ChromiumSession(IPlaywright playwright, IBrowserContext context, DirectoryInfo profile, IPage page)
    {
        _playwright = playwright;
        _context = context;
        _profile = profile;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error") lock (_errors) _errors.Add($"console: {message.Text}");
        };
        page.PageError += (_, error) =>
        {
            lock (_errors) _errors.Add($"uncaught: {error}");
        };
    }

    public IPage Page { get; }

    /// <summary>Console errors and uncaught exceptions of the page so far (CSP violations show here too).</summary>
    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors) return [.. _errors];
        }
    }

    public static async Task<ChromiumSession> StartAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"Chromium is not installed ({ExecutablePath} is missing): run `apt-get install -y chromium` " +
                                                "(scripts/test.sh installs it when run as root).");
        var playwright = await Playwright.CreateAsync();
        var profile = Directory.CreateTempSubdirectory("gateway-chromium-");
        try
        {
            var context = await playwright.Chromium.LaunchPersistentContextAsync(profile.FullName, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args = Arguments,
                ViewportSize = new ViewportSize { Width = 1280, Height = 1000 },
                Locale = "en-GB",
                TimezoneId = "UTC",
            });
            var page = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync();
            return new ChromiumSession(playwright, context, profile, page);
        }
        catch
        {
            playwright.Dispose();
            profile.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>Attaches a screenshot and the page's text to the current test (saved with its result; the TRX logger
    /// adds the extension).</summary>
    public async Task AttachPageAsync(string name)
    {
        TestContext.Current.AddAttachment($"{name}-screenshot", await Page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true }), "image/png");
        TestContext.Current.AddAttachment($"{name}-text", await Page.InnerTextAsync("body"));
    }

    public async ValueTask DisposeAsync()
    {
        await _context.CloseAsync();
        _playwright.Dispose();
        _profile.Delete(recursive: true);
    }
}
