import { randomBytes } from 'node:crypto';
import { ApiKeyLookup, MAX_LOOKUP_BATCH } from 'src/api-key-resolution/api-key-lookup';
import { ApiKeyResolutionModule } from 'src/api-key-resolution/api-key-resolution.module';
import type { Resolution } from 'src/api-key-resolution/api-key-cache';
import { parseApiKey, randomLookupId } from 'src/api-keys/api-key-format';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { AuditModule } from 'src/audit/audit.module';
import { startModules, type TestModules } from 'test/helpers/modules';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { apiKey, disableUser, expireApiKey, revokeApiKey, type MintedApiKey } from 'test/helpers/factories';
import { spyOnQueries } from 'test/helpers/query-spy';

jest.setTimeout(60_000);

/** The resolution lookup's statement, told apart from the other SQL the modules send. */
const isLookup = (sql: string): boolean => sql.includes('FROM api_keys k') && sql.includes('ANY($1');

/**
 * ApiKeyLookup on a real database: cache misses that arrive in one turn of the event loop share one query,
 * and every caller still gets the answer for its own key (its own hash compared, its own checks).
 */
describe('resolution lookups batched per turn of the event loop', () => {
  let db: TestDatabase;
  let modules: TestModules;
  /** Every key this file minted: none may reach a log line. */
  const secrets: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    modules = await startModules(db, [AuditModule, ApiKeysModule, ApiKeyResolutionModule]);
  });

  afterAll(async () => {
    expect(modules?.logs.leaked(secrets)).toEqual([]);
    await modules?.close();
    await db?.drop();
  });

  const mint = async (sub: string): Promise<MintedApiKey> => {
    const minted = await apiKey(modules.moduleRef, sub);
    secrets.push(minted.secret);
    return minted;
  };
  /** A minted key's public lookup id (`ksk_<keyId>_<secret>`). */
  const idOf = (m: MintedApiKey): string => parseApiKey(m.secret)!.keyId;
  const lookup = (): ApiKeyLookup => modules.moduleRef.get(ApiKeyLookup);
  /** Looks every key up in the same turn of the event loop; the lookup queries sent meanwhile. */
  const together = async (presented: string[]): Promise<{ answers: Resolution[]; queries: number }> => {
    const spy = spyOnQueries();
    try {
      const answers = await Promise.all(presented.map(async (key) => lookup().find(key)));
      return { answers, queries: spy.statements().filter(isLookup).length };
    } finally {
      spy.restore();
    }
  };
  const kinds = (answers: Resolution[]): string[] =>
    answers.map((a) => (a.kind === 'ok' ? `ok:${a.key.keyId}` : a.kind));

  it('one query for the misses of one turn, each answered for its own key', async () => {
    const [a, b, revoked, expired, disabled] = await Promise.all(
      ['batch-a', 'batch-b', 'batch-revoked', 'batch-expired', 'batch-disabled'].map(mint),
    );
    await revokeApiKey(modules.moduleRef, idOf(revoked!));
    await expireApiKey(db, idOf(expired!));
    await disableUser(db, { externalId: 'batch-disabled' });
    // A well-formed key with a's key id and another secret: same row, another hash.
    const wrongSecret = `ksk_${idOf(a!)}_${randomBytes(32).toString('hex')}`;
    const unknown = `ksk_${randomLookupId()}_${randomBytes(32).toString('hex')}`;

    const { answers, queries } = await together([
      a!.secret,
      wrongSecret,
      b!.secret,
      revoked!.secret,
      expired!.secret,
      disabled!.secret,
      unknown,
      b!.secret,
    ]);

    expect(queries).toBe(1);
    expect(kinds(answers)).toEqual([
      `ok:${idOf(a!)}`,
      'invalid',
      `ok:${idOf(b!)}`,
      'invalid',
      'invalid',
      'user_disabled',
      'invalid',
      `ok:${idOf(b!)}`,
    ]);
    // The answers were cached: the same keys again send nothing.
    expect((await together([a!.secret, unknown])).queries).toBe(0);
  });

  it(`more than ${MAX_LOOKUP_BATCH} misses in one turn: a query per ${MAX_LOOKUP_BATCH}, every one answered`, async () => {
    const count = MAX_LOOKUP_BATCH + 20;
    const minted: MintedApiKey[] = [];
    for (let i = 0; i < count; i++) minted.push(await mint(`batch-many-${i}`));

    const { answers, queries } = await together(minted.map((m) => m.secret));

    expect(queries).toBe(2);
    expect(kinds(answers)).toEqual(minted.map((m) => `ok:${idOf(m)}`));
  });

  it('a lookup alone is not held back: it is sent at the end of its turn', async () => {
    const alone = await mint('batch-alone');
    const { answers, queries } = await together([alone.secret]);
    expect(queries).toBe(1);
    expect(kinds(answers)).toEqual([`ok:${idOf(alone)}`]);
  });
});
