import { API_KEY_PATTERN } from 'src/api-keys/api-key-format';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { browserSuite, freePort, launchChromium, type TestBrowser } from 'test/helpers/browser';
import { sessionBearer, sessionEnv, SESSION_AUDIENCE, TestIssuer } from 'test/helpers/issuers';

/**
 * The settings UI's page, as a test page on an origin of its own: it calls keysmith's origin directly with
 * `fetch` and the user's session token (no proxy), as the real UI does. `settings.call` answers what the page
 * could read of the answer, or the error `fetch` rejected with.
 */
const TEST_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>settings</title></head>
<body>
<script>
window.settings = {
  async call(keysmith, session, method, path, body) {
    const headers = { authorization: 'Bearer ' + session };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await fetch(keysmith + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, requestId: res.headers.get('x-request-id'), body: await res.json() };
    } catch (err) {
      return { rejected: err.name, message: String(err.message) };
    }
  },
};
</script>
</body></html>`;

interface PageAnswer {
  status?: number;
  requestId?: string | null;
  body?: unknown;
  rejected?: string;
  message?: string;
}

interface MintedKey {
  key: { id: string; label: string | null };
  secret: string;
}

/** Serves TEST_PAGE on a loopback port of its own: an origin of its own. */
async function startTestPage(): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(TEST_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const { describeWithBrowser, chromium: CHROMIUM } = browserSuite();

describeWithBrowser('the settings UI calls keysmith from a real browser (headless Chromium, CORS)', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  let t: TestApp;
  let keysmith: string;
  /** The settings UI, on the origin configured as SETTINGS_UI_ORIGIN. */
  let settingsUi: { url: string; server: Server };
  /** The same page on a loopback origin keysmith does not list. */
  let elsewhere: { url: string; server: Server };
  let browser: TestBrowser;

  beforeAll(async () => {
    issuer = await TestIssuer.start(SESSION_AUDIENCE);
    settingsUi = await startTestPage();
    elsewhere = await startTestPage();
    const port = await freePort();
    keysmith = `http://127.0.0.1:${port}`;
    t = await suite.start({
      ...sessionEnv(issuer),
      ADMIN_TOKEN: 'a'.repeat(40),
      OAUTH_CALLBACK_ORIGIN: keysmith,
      SETTINGS_UI_ORIGIN: `https://settings.example.com,${settingsUi.url}`,
    });
    await t.app.listen(port, '127.0.0.1');
    browser = await launchChromium(CHROMIUM!);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const page of [settingsUi, elsewhere]) await new Promise((resolve) => page?.server.close(resolve));
    await issuer?.stop();
  });

  const open = async (page: { url: string }): Promise<Page> => {
    const tab = await browser.context.newPage();
    await tab.goto(page.url);
    return tab;
  };
  const call = (tab: Page, session: string, method: string, path: string, body?: unknown) =>
    tab.evaluate(
      ([k, s, m, p, b]) =>
        (globalThis as unknown as { settings: { call(...a: unknown[]): Promise<PageAnswer> } }).settings.call(
          k,
          s,
          m,
          p,
          b,
        ),
      [keysmith, session, method, path, body] as const,
    );
  /** The user's keys, as keysmith holds them (asked directly, not through a browser). */
  const keysOf = async (sub: string): Promise<{ id: string; label: string | null }[]> =>
    (
      (
        await request(t.http)
          .get('/api/v1/developer/keys')
          .set('authorization', await sessionBearer(issuer, sub))
          .expect(200)
      ).body as { keys: { id: string; label: string | null }[] }
    ).keys;

  it('a page on SETTINGS_UI_ORIGIN mints a key and lists the keys with its session token', async () => {
    const tab = await open(settingsUi);
    const session = await issuer.token({ sub: 'browser-user' });

    const minted = await call(tab, session, 'POST', '/api/v1/developer/keys', { label: 'from the browser' });
    expect(minted).toMatchObject({ status: 201, requestId: expect.stringMatching(/.+/) });
    const { key, secret } = minted.body as MintedKey;
    expect(secret).toMatch(API_KEY_PATTERN);
    expect(key.label).toBe('from the browser');

    const listed = await call(tab, session, 'GET', '/api/v1/developer/keys');
    expect(listed.status).toBe(200);
    expect((listed.body as { keys: { id: string }[] }).keys.map((k) => k.id)).toEqual([key.id]);

    // An error is readable too: the page sees the 401, not a network failure.
    const refused = await call(tab, 'not-a-token', 'GET', '/api/v1/developer/keys');
    expect(refused).toMatchObject({ status: 401, body: { error: { type: 'unauthorized', status: 401 } } });
    await tab.close();
  }, 60_000);

  it('a page on an unlisted origin is blocked: fetch rejects, and nothing is minted', async () => {
    const tab = await open(elsewhere);
    const session = await issuer.token({ sub: 'elsewhere-user' });

    const minted = await call(tab, session, 'POST', '/api/v1/developer/keys', { label: 'from elsewhere' });
    expect(minted).toEqual({ rejected: 'TypeError', message: 'Failed to fetch' });
    const listed = await call(tab, session, 'GET', '/api/v1/developer/keys');
    expect(listed).toEqual({ rejected: 'TypeError', message: 'Failed to fetch' });
    // The preflight was refused, so the POST never reached keysmith.
    expect(await keysOf('elsewhere-user')).toEqual([]);
    await tab.close();
  }, 60_000);

  it('even the listed page cannot call an admin route from the browser', async () => {
    const tab = await open(settingsUi);
    const whoami = await call(tab, 'a'.repeat(40), 'GET', '/api/v1/admin/whoami');
    expect(whoami).toEqual({ rejected: 'TypeError', message: 'Failed to fetch' });
    await tab.close();
  }, 60_000);
});
