import request from 'supertest';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { sessionEnv, TestIssuer } from 'test/helpers/issuers';

interface ProviderRow {
  id: string;
  slug: string;
  name: string;
  auth_url: string;
  api_base: string;
  enabled: boolean;
}

const provider = (slug: string, name: string, extra: Record<string, unknown> = {}) => ({
  slug,
  name,
  authUrl: `https://${slug}.test/auth`,
  apiBase: `https://api.${slug}.test/`,
  ...extra,
});

/** BILLING_PROVIDERS is the catalog's source of truth: synchronised at every start, listed to sessions. */
describe('the billing-provider catalog', () => {
  const suite = e2eSuite({ issuers: false });
  let issuer: TestIssuer;
  const apps: TestApp[] = [];

  const start = async (providers: unknown): Promise<TestApp> => {
    const t = await suite.start({
      ...sessionEnv(issuer),
      BILLING_PROVIDERS: typeof providers === 'string' ? providers : JSON.stringify(providers),
    });
    apps.push(t);
    return t;
  };
  const rows = () =>
    suite.db.query<ProviderRow>(
      'SELECT id, slug, name, auth_url, api_base, enabled FROM billing_providers ORDER BY slug',
    );
  const listAs = async (t: TestApp) =>
    request(t.http)
      .get('/api/v1/billing-providers')
      .set('authorization', `Bearer ${await issuer.token({ sub: 'catalog-reader' })}`);

  beforeAll(async () => {
    issuer = await TestIssuer.start('keysmith-billing');
  });

  afterAll(async () => {
    for (const t of apps) await t.close();
    await issuer?.stop();
  });

  it('upserts BILLING_PROVIDERS at start and lists the enabled ones by name', async () => {
    const t = await start([
      provider('zeta', 'Zeta Pay'),
      provider('acme', 'Acme Billing'),
      provider('off', 'Off Provider', { enabled: false }),
    ]);
    const stored = await rows();
    expect(stored.map((r) => [r.slug, r.name, r.api_base, r.enabled])).toEqual([
      ['acme', 'Acme Billing', 'https://api.acme.test', true],
      ['off', 'Off Provider', 'https://api.off.test', false],
      ['zeta', 'Zeta Pay', 'https://api.zeta.test', true],
    ]);
    const res = await listAs(t);
    expect(res.status).toBe(200);
    const byslug = (slug: string) => stored.find((r) => r.slug === slug)!.id;
    expect(res.body).toEqual({
      providers: [
        { id: byslug('acme'), slug: 'acme', name: 'Acme Billing' },
        { id: byslug('zeta'), slug: 'zeta', name: 'Zeta Pay' },
      ],
    });
  });

  it('keeps ids across restarts, applies changes and disables providers no longer listed', async () => {
    const before = await rows();
    await start([provider('acme', 'Acme Renamed'), provider('off', 'Off Provider')]);
    const after = await rows();
    expect(after.map((r) => [r.id, r.slug, r.name, r.enabled])).toEqual([
      [before[0]!.id, 'acme', 'Acme Renamed', true],
      [before[1]!.id, 'off', 'Off Provider', true],
      [before[2]!.id, 'zeta', 'Zeta Pay', false],
    ]);
  });

  it('two instances starting together on one database converge', async () => {
    const config = [provider('acme', 'Acme Billing'), provider('nova', 'Nova')];
    const [a, b] = await Promise.all([start(config), start(config)]);
    const stored = await rows();
    expect(stored.filter((r) => r.enabled).map((r) => r.slug)).toEqual(['acme', 'nova']);
    expect(stored.filter((r) => r.slug === 'nova')).toHaveLength(1);
    const [la, lb] = await Promise.all([listAs(a), listAs(b)]);
    expect(la.body).toEqual(lb.body);
  });

  it.each([
    ['not JSON', '[{', /BILLING_PROVIDERS must be a JSON array/],
    ['not an array', { slug: 'acme' }, /BILLING_PROVIDERS must be a JSON array/],
    ['a bad slug', [provider('Bad Slug!', 'X')], /BILLING_PROVIDERS\[0\]\.slug/],
    [
      'a missing name',
      [{ slug: 'acme', authUrl: 'https://a.test', apiBase: 'https://a.test' }],
      /\[0\]\.name/,
    ],
    ['a bad URL', [provider('acme', 'Acme', { authUrl: 'javascript:alert(1)' })], /\[0\]\.authUrl/],
    ['a duplicate slug', [provider('acme', 'A'), provider('acme', 'B')], /\[1\]\.slug duplicates/],
    ['an unknown field', [provider('acme', 'A', { secret: 'hunter2-value' })], /unknown fields: secret/],
    ['a non-boolean enabled', [provider('acme', 'A', { enabled: 'yes' })], /\[0\]\.enabled/],
  ])('refuses to start with %s, naming the problem', async (_name, value, message) => {
    await expect(start(value)).rejects.toThrow(message);
  });

  it('never echoes a value from BILLING_PROVIDERS in a start error', async () => {
    const err = await start([provider('acme', 'A', { authUrl: 'not a url hunter2-value' })]).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toContain('hunter2-value');
  });

  it('answers 401 without a session', async () => {
    const t = apps[0]!;
    const res = await request(t.http).get('/api/v1/billing-providers');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: expect.objectContaining({ type: 'unauthorized', status: 401 }) as unknown,
    });
  });
});
