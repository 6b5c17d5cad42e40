import { Client, type ClientConfig } from 'pg';
import request from 'supertest';
import { FEED_CLIENT_FACTORY, RevocationFeed, type FeedClientFactory } from 'src/database/revocation-feed';
import { e2eSuite } from 'test/helpers/app';
import { provision } from 'test/helpers/factories';
import { INVALID_API_KEY, resolveKey } from 'test/helpers/http';
import { m2mToken } from 'test/helpers/issuers';
import { eventually } from 'test/helpers/waiting';

/**
 * A feed connection as a pooler makes it, without a pooler: the process id announced at connection
 * (BackendKeyData) is not the backend's. PgBouncer announces its own (test/e2e/pooler/ runs the real one).
 */
function pooledLooking(config: ClientConfig): Client {
  const client = new Client(config);
  client.once('connect', () => {
    (client as unknown as { processID: number }).processID = 0x7fff_fff0;
  });
  return client;
}

/**
 * The feed refuses a connection that is not a direct session (decision 0103): an error naming
 * DATABASE_LISTEN_URL, the feed stays down (listening 0 in /metrics), and every credential is checked in the
 * database, so a revocation elsewhere is still refused at once.
 */
describe('the revocation feed on a connection that is not a direct session', () => {
  const suite = e2eSuite();
  const factory: FeedClientFactory = pooledLooking;

  it('refuses it loudly and leaves every lookup to the database', async () => {
    const direct = await suite.boot();
    const refused = await suite.boot(
      {},
      { providers: [{ provide: FEED_CLIENT_FACTORY, useValue: factory }] },
    );
    await eventually(() => refused.logs.text().includes('revocation listener refused its connection'));
    expect(refused.logs.text()).toContain('set DATABASE_LISTEN_URL');
    expect(refused.app.get(RevocationFeed).listening).toBe(false);
    expect(direct.app.get(RevocationFeed).listening).toBe(true);
    const metrics = await request(refused.http).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^keysmith_revocation_feed_listening 0$/m);

    const provisioner = await m2mToken(suite.m2m, 'provisioner', 'provision:apikey');
    const resolver = await m2mToken(suite.m2m, 'gateway', 'apikeys:resolve');
    const first = await provision(direct.http, provisioner, { externalId: 'pooled-looking' });
    await resolveKey(refused.http, resolver, first.apiKey).expect(200);
    await resolveKey(refused.http, resolver, first.apiKey).expect(200);
    await provision(direct.http, provisioner, { externalId: 'pooled-looking' });
    await resolveKey(refused.http, resolver, first.apiKey).expect(401, INVALID_API_KEY);
  });
});
