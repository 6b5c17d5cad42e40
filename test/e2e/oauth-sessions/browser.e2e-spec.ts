import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConsoleMessage, Page, Response, WebError } from 'playwright-core';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { browserSuite, freePort, launchChromium, type TestBrowser } from 'test/helpers/browser';
import { FakeProvider } from 'test/helpers/fake-provider';
import { oauthEnv, poll } from 'test/helpers/oauth';
import { sessionBearer, TestIssuer } from 'test/helpers/issuers';

/**
 * The settings UI's side of the handoff, as a test page: a click starts the flow with the user's session
 * token and opens the provider's login in a new tab (`#mode=open`), or only shows the `authUrl` (the link a
 * starter could send to someone else). It listens for the callback page's message, accepts it only from
 * keysmith's origin, and then polls with the completion code until the key arrives. Every message it
 * receives is recorded. Its origin is its own; it reaches keysmith's API through a same-origin proxy, as a
 * UI behind a gateway does.
 */
const TEST_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>settings</title></head>
<body>
<button id="link">Link Acme Billing</button>
<pre id="authurl"></pre>
<pre id="messages">[]</pre>
<pre id="result"></pre>
<script>
const params = new URLSearchParams(location.hash.slice(1));
const session = params.get('session');
const keysmith = params.get('keysmith');
const messages = [];
let completed;
const linked = new Promise((resolve) => { completed = resolve; });
window.addEventListener('message', (event) => {
  messages.push({ origin: event.origin, data: event.data });
  document.getElementById('messages').textContent = JSON.stringify(messages);
  if (event.origin === keysmith && event.data && event.data.type === 'keysmith:provider-linked') completed(event.data);
});
document.getElementById('link').addEventListener('click', async () => {
  const out = document.getElementById('result');
  const headers = { authorization: 'Bearer ' + session };
  try {
    const start = await (await fetch('/api/v1/auth/providers/acme/start', { method: 'POST', headers })).json();
    if (params.get('mode') === 'open') window.open(start.authUrl, '_blank');
    document.getElementById('authurl').textContent = start.authUrl;
    document.getElementById('authurl').setAttribute('data-login', start.loginSessionId);
    const message = await linked;
    if (message.loginSessionId !== start.loginSessionId) throw new Error('a message for another login');
    for (;;) {
      const res = await fetch('/api/v1/auth/providers/acme/result?loginSessionId=' + start.loginSessionId +
        '&completionCode=' + encodeURIComponent(message.completionCode), { headers });
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

interface TestPage {
  url: string;
  server: Server;
  /** Where `/api/...` goes: set once keysmith listens (the page's origin must be configured before). */
  keysmith: string;
}

/** Serves TEST_PAGE at `/` and proxies `/api/...` to keysmith. */
async function startTestPage(): Promise<TestPage> {
  const page = { keysmith: '' } as TestPage;
  const server = createServer((req, res) => {
    const keysmith = page.keysmith;
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
  page.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  page.server = server;
  return page;
}

const { describeWithBrowser, chromium: CHROMIUM } = browserSuite();

describeWithBrowser('provider OAuth handoff in a real browser (headless Chromium)', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let acme: FakeProvider;
  let t: TestApp;
  let keysmith: string;
  /** The settings UI, on the origin configured as SETTINGS_UI_ORIGIN. */
  let settingsUi: TestPage;
  /** The same page on an origin keysmith does not know: a page of the starter's own making. */
  let elsewhere: TestPage;
  let browser: TestBrowser;

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-ui');
    acme = await FakeProvider.start();
    settingsUi = await startTestPage();
    elsewhere = await startTestPage();
    const port = await freePort();
    keysmith = `http://127.0.0.1:${port}`;
    t = await suite.start({
      ...oauthEnv(issuer, [acme.entry('acme', 'Acme Billing')]),
      OAUTH_CALLBACK_ORIGIN: keysmith,
      SETTINGS_UI_ORIGIN: settingsUi.url,
      OAUTH_POLL_INTERVAL_SECONDS: '1',
    });
    await t.app.listen(port, '127.0.0.1');
    settingsUi.keysmith = keysmith;
    elsewhere.keysmith = keysmith;
    browser = await launchChromium(CHROMIUM!);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const page of [settingsUi, elsewhere]) await new Promise((resolve) => page?.server.close(resolve));
    await acme?.stop();
    await issuer?.stop();
  });

  const open = async (page: TestPage, sub: string, mode: 'open' | 'show'): Promise<Page> => {
    const tab = await browser.context.newPage();
    const session = await issuer.token({ sub });
    await tab.goto(`${page.url}/#session=${session}&keysmith=${encodeURIComponent(keysmith)}&mode=${mode}`);
    return tab;
  };
  const messagesOf = async (tab: Page): Promise<unknown[]> =>
    JSON.parse((await tab.textContent('#messages')) ?? '[]') as unknown[];
  const pollAs = async (sub: string, id: string): Promise<unknown> =>
    (await poll(t.http, await sessionBearer(issuer, sub), 'acme', id)).body as unknown;

  it('the settings UI opens the login, receives the completion code by postMessage, and gets the key', async () => {
    const { context } = browser;
    const problems: string[] = [];
    const callbacks: { status: number; headers: Record<string, string> }[] = [];
    const onConsole = (msg: ConsoleMessage): void => {
      if (msg.type() === 'error') problems.push(msg.text());
    };
    const onError = (err: WebError): void => void problems.push(err.error().message);
    const onResponse = (res: Response): void => {
      // Headers are read synchronously, from the response event itself: the tab closes right after, and
      // allHeaders() (a round trip to the browser) can then fail with "Target page ... has been closed".
      if (new URL(res.url()).pathname.endsWith('/callback'))
        callbacks.push({ status: res.status(), headers: res.headers() });
    };
    context.on('console', onConsole);
    context.on('weberror', onError);
    context.on('response', onResponse);
    try {
      const settings = await open(settingsUi, 'hana', 'open');
      const opened = settings.waitForEvent('popup', { timeout: 15_000 });
      await settings.click('#link');
      const popup = await opened;
      // The callback page closes its own tab.
      if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 15_000 });
      expect(popup.isClosed()).toBe(true);

      await settings.waitForSelector('#result[data-done="yes"]', { timeout: 15_000 });
      const result = JSON.parse((await settings.textContent('#result')) ?? '{}') as unknown;
      const issued = acme.issued.at(-1)!;
      expect(result).toEqual({ status: 'complete', apiKey: issued.apiKey });
      // Exactly one message, from keysmith's origin, with the contract's shape.
      const loginSessionId = await settings.getAttribute('#authurl', 'data-login');
      expect(await messagesOf(settings)).toEqual([
        {
          origin: keysmith,
          data: {
            type: 'keysmith:provider-linked',
            loginSessionId,
            completionCode: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
          },
        },
      ]);

      expect(callbacks).toHaveLength(1);
      expect(callbacks[0]!.status).toBe(200);
      expect(callbacks[0]!.headers['content-security-policy']).toContain("default-src 'none'");
      // The page's inline script and style ran under its CSP: nothing was refused.
      expect(problems).toEqual([]);
      await settings.close();
    } finally {
      context.off('console', onConsole);
      context.off('weberror', onError);
      context.off('response', onResponse);
    }
  }, 60_000);

  it('a link completed in a tab with no opener hands nobody the code: the starter gets nothing', async () => {
    const settings = await open(settingsUi, 'mallory', 'show');
    await settings.click('#link');
    await settings.waitForSelector('#authurl[data-login]', { timeout: 15_000 });
    const authUrl = (await settings.textContent('#authurl'))!;
    const loginSessionId = (await settings.getAttribute('#authurl', 'data-login'))!;

    // Someone else opens the link the starter sent them: a tab of their own, no opener.
    const victim = await browser.context.newPage();
    const landed = victim.waitForURL(/\/callback$/, { timeout: 15_000 });
    await victim.goto(authUrl);
    await landed;
    expect(await victim.textContent('h1')).toContain('Signed in');
    expect(await victim.evaluate('window.opener === null')).toBe(true);

    expect(await messagesOf(settings)).toEqual([]);
    expect(await pollAs('mallory', loginSessionId)).toEqual({ status: 'awaiting_confirmation' });
    expect(await settings.getAttribute('#result', 'data-done')).toBeNull();
    await Promise.all([victim.close(), settings.close()]);
  }, 60_000);

  it('an opener on an origin that is not the settings UI receives nothing', async () => {
    const page = await open(elsewhere, 'mallory', 'open');
    const opened = page.waitForEvent('popup', { timeout: 15_000 });
    await page.click('#link');
    const popup = await opened;
    if (!popup.isClosed()) await popup.waitForEvent('close', { timeout: 15_000 });
    await page.waitForSelector('#authurl[data-login]', { timeout: 15_000 });
    const loginSessionId = (await page.getAttribute('#authurl', 'data-login'))!;
    // The browser dropped the message: its target origin is the settings UI's, not this page's.
    expect(await messagesOf(page)).toEqual([]);
    expect(await pollAs('mallory', loginSessionId)).toEqual({ status: 'awaiting_confirmation' });
    await page.close();
  }, 60_000);

  it('never logs a key, a token or a completion code', () => {
    expect(t.logs.leaked(acme.secrets())).toEqual([]);
  });
});
