import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { startTestApp, type TestApp } from 'test/helpers/app';
import { findChromium, freePort, launchChromium, type TestBrowser } from 'test/helpers/browser';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { FakeProvider } from 'test/helpers/fake-provider';
import { oauthEnv } from 'test/helpers/oauth';
import { TestIssuer } from 'test/helpers/issuers';

/**
 * The settings UI's side of the handoff, as a test page: a click starts the flow with the user's session
 * token, opens the provider's login in a new tab, and polls until the key arrives. Its origin is its own; it
 * reaches keysmith's API through a same-origin proxy, as a UI behind a gateway does.
 */
const TEST_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>settings</title></head>
<body>
<button id="link">Link Acme Billing</button>
<pre id="result"></pre>
<script>
const session = new URLSearchParams(location.hash.slice(1)).get('session');
document.getElementById('link').addEventListener('click', async () => {
  const out = document.getElementById('result');
  const headers = { authorization: 'Bearer ' + session };
  try {
    const start = await (await fetch('/api/v1/auth/providers/acme/start', { method: 'POST', headers })).json();
    window.open(start.authUrl, '_blank');
    for (;;) {
      const res = await fetch('/api/v1/auth/providers/acme/result?loginSessionId=' + start.loginSessionId, { headers });
      const body = await res.json();
      if (body.status !== 'pending') { out.textContent = JSON.stringify(body); break; }
      await new Promise((r) => setTimeout(r, start.pollIntervalSeconds * 1000));
    }
  } catch (err) {
    out.textContent = JSON.stringify({ error: String(err) });
  }
  out.setAttribute('data-done', 'yes');
});
</script>
</body></html>`;

/** Serves TEST_PAGE at `/` and proxies `/api/...` to keysmith. */
async function startTestPage(keysmith: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/api/')) {
      const upstream = httpRequest(
        `${keysmith}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: new URL(keysmith).host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(TEST_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const CHROMIUM = findChromium();
if (!CHROMIUM)
  console.warn(
    'Browser test SKIPPED: no Chromium found (looked at CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser). ' +
      "Install Debian's chromium package (apt-get install -y chromium) to run it.",
  );
const describeWithBrowser = CHROMIUM ? describe : describe.skip;

describeWithBrowser('provider OAuth handoff in a real browser (headless Chromium)', () => {
  let db: TestDatabase;
  let issuer: TestIssuer;
  let acme: FakeProvider;
  let t: TestApp;
  let page: { url: string; server: Server };
  let browser: TestBrowser;

  beforeAll(async () => {
    db = await createTestDatabase();
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    t = await startTestApp(db, {
      ...oauthEnv(issuer, [acme.entry('acme', 'Acme Billing')]),
      OAUTH_CALLBACK_ORIGIN: origin,
      OAUTH_POLL_INTERVAL_SECONDS: '1',
    });
    await t.app.listen(port, '127.0.0.1');
    page = await startTestPage(origin);
    browser = await launchChromium(CHROMIUM!);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => page?.server.close(resolve));
    await t?.close();
    await acme?.stop();
    await issuer?.stop();
    await db?.drop();
  });

  it('starts, follows the provider into a new tab that closes itself, and gets the key by polling', async () => {
    const { context } = browser;
    const problems: string[] = [];
    const callbacks: { status: number; headers: Record<string, string> }[] = [];
    context.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    context.on('weberror', (err) => problems.push(err.error().message));
    context.on('response', (res) => {
      // Headers are read synchronously, from the response event itself: the tab closes right after, and
      // allHeaders() (a round trip to the browser) can then fail with "Target page ... has been closed".
      if (new URL(res.url()).pathname.endsWith('/callback'))
        callbacks.push({ status: res.status(), headers: res.headers() });
    });

    const settings: Page = context.pages()[0] ?? (await context.newPage());
    const session = await issuer.token({ sub: 'hana' });
    await settings.goto(`${page.url}/#session=${session}`);
    const opened = settings.waitForEvent('popup', { timeout: 15_000 });
    await settings.click('#link');
    const popup = await opened;
    // The callback page closes its own tab.
    if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 15_000 });
    expect(popup.isClosed()).toBe(true);

    await settings.waitForSelector('#result[data-done="yes"]', { timeout: 15_000 });
    const result = JSON.parse((await settings.textContent('#result')) ?? '{}') as unknown;
    expect(acme.issued).toHaveLength(1);
    expect(result).toEqual({ status: 'complete', apiKey: acme.issued[0]!.apiKey });

    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]!.status).toBe(200);
    expect(callbacks[0]!.headers['content-security-policy']).toContain("default-src 'none'");
    // The page's inline script and style ran under its CSP: nothing was refused.
    expect(problems).toEqual([]);
    expect(t.logs.leaked(acme.secrets())).toEqual([]);
  }, 60_000);
});
