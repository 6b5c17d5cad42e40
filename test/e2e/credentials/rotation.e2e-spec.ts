import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { promisify } from 'node:util';
import { defineEncryptedTable } from 'src/crypto/encryption/encrypted-tables';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { APP_REGISTRATIONS, ENCRYPTED_TABLES } from 'src/app.registrations';
import { RewrapExit, runRewrapCommand } from 'src/crypto/encryption/rewrap-command';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { depositCredential, requestAccessToken } from 'test/helpers/credentials';
import { plaintextInTables } from 'test/helpers/table-scan';
import { TestTokenServer } from 'test/helpers/token-server';
import { m2mToken, sessionBearer } from 'test/helpers/issuers';

const OLD = 'rotation-old-master-secret-0123456789abcd';
const NEW = 'rotation-new-master-secret-0123456789abcd';
const ROTATED = `1:${OLD},2:${NEW}`;

/**
 * A second encrypted table, defined the way another feature defines its own and listed beside the app's
 * ENCRYPTED_TABLES: the rewrap must cover every table it is given, not just the credentials.
 */
const scratch = defineEncryptedTable({
  table: 'rotation_scratch_secrets',
  keyColumns: ['id'],
  versionColumn: 'enc_key_version',
  columns: ['secret_enc'],
  field: (row, column) => ({ table: 'rotation_scratch_secrets', column, row: [String(row.id)] }),
});

/** The app as the rewrap sees it, with the scratch table listed as a feature lists its own. */
const app = { ...APP_REGISTRATIONS, encryptedTables: [...ENCRYPTED_TABLES, scratch] };

interface Row {
  id: string;
  user_id: string;
  mcp_server_id: string;
  enc_key_version: number;
}

/** Captures what the command prints. */
class Output {
  text = '';
  constructor(readonly isTTY = false) {}
  write(s: string): void {
    this.text += s;
  }
}

/**
 * Key rotation end to end: rows written under version 1 stay readable once ENCRYPTION_KEYS adds version 2,
 * new writes use version 2, and the rewrap moves every old row (of every encrypted table) to version 2, after
 * which version 1 can be dropped. Safe while the service serves (locked rows are skipped, not waited for),
 * resumable, and it reports, never prints, rows it cannot read.
 */
describe('key rotation and credentials:rewrap', () => {
  const suite = e2eSuite();
  let v1: TestApp;
  let rotated: TestApp;
  let server: TestTokenServer;
  let runtime: string;
  const secrets: string[] = [];
  const env = (extra: Record<string, string>) => ({ NODE_ENV: 'test', DATABASE_URL: suite.db.url, ...extra });

  beforeAll(async () => {
    server = await TestTokenServer.start({ client: { id: 'rot-client', secret: 'rot-client-secret-value' } });
    secrets.push('rot-client-secret-value');
    v1 = await suite.boot({ ENCRYPTION_KEY: OLD });
    rotated = await suite.boot({ ENCRYPTION_KEYS: ROTATED });
    runtime = await m2mToken(suite.m2m, 'mcp-runtime', 'credentials:use');
    await suite.db.query(
      `CREATE TABLE rotation_scratch_secrets (id integer PRIMARY KEY, secret_enc bytea, enc_key_version integer NOT NULL)`,
    );
  });

  afterAll(async () => {
    await server?.stop();
  });

  const rows = () =>
    suite.db.query<Row>(
      'SELECT id, user_id, mcp_server_id, enc_key_version FROM mcp_oauth_credentials ORDER BY id',
    );
  const versions = async (): Promise<number[]> =>
    [...new Set((await rows()).map((r) => r.enc_key_version))].sort();
  const userIdOf = async (sub: string): Promise<string> =>
    (await suite.db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [sub]))[0]!.id;

  async function deposit(app: TestApp, sub: string): Promise<string> {
    const refreshToken = server.grant();
    secrets.push(refreshToken);
    await depositCredential(app.http, await sessionBearer(suite.session, sub), {
      mcpServerId: 'srv',
      refreshToken,
      tokenEndpoint: server.tokenEndpoint,
      clientId: 'rot-client',
      clientSecret: 'rot-client-secret-value',
    });
    return userIdOf(sub);
  }
  const ask = (app: TestApp, userId: string) =>
    requestAccessToken(app.http, runtime, { userId, mcpServerId: 'srv' });

  it('keeps old rows readable after a rotation, and writes new rows under the new version', async () => {
    const users: string[] = [];
    for (let i = 0; i < 7; i++) users.push(await deposit(v1, `rot-${i}`));
    // Two of them also hold a cached access token (encrypted under version 1 too).
    for (const u of users.slice(0, 2)) expect((await ask(v1, u)).status).toBe(200);
    expect(await versions()).toEqual([1]);

    // The rotated instance reads a version-1 row (its cached access token, then its refresh token).
    expect((await ask(rotated, users[0]!)).status).toBe(200);
    expect((await ask(rotated, users[3]!)).status).toBe(200);
    await deposit(rotated, 'rot-new');
    const byUser = new Map((await rows()).map((r) => [r.user_id, r.enc_key_version]));
    expect(byUser.get(await userIdOf('rot-new'))).toBe(2);
    // A refresh rewrites every ciphertext of its row, so the row moves to the new version as a whole.
    expect(byUser.get(users[3]!)).toBe(2);
    expect(byUser.get(users[0]!)).toBe(1);
    // Raising ENCRYPTION_MIN_VERSION before the rewrap makes version-1 rows unusable (503, never garbage).
    const early = await suite.boot({ ENCRYPTION_KEYS: ROTATED, ENCRYPTION_MIN_VERSION: '2' });
    const refused = await ask(early, users[1]!);
    expect(refused.status).toBe(503);
    expect((refused.body as { error: { type: string } }).error.type).toBe('encryption_key_missing');

    const scratchService = new EncryptionService({ keys: [{ version: 1, secret: OLD }] });
    for (let id = 1; id <= 3; id++) {
      const { ciphertext } = scratchService.encrypt(
        `scratch-secret-${id}`,
        scratch.field({ id }, 'secret_enc'),
      );
      secrets.push(`scratch-secret-${id}`);
      await suite.db.query('INSERT INTO rotation_scratch_secrets VALUES ($1, $2, 1)', [id, ciphertext]);
    }
  });

  it('skips rows the service holds locked, says to run again, and finishes when run again', async () => {
    const held = new Client({ connectionString: suite.db.url });
    await held.connect();
    const out = new Output();
    try {
      await held.query('BEGIN');
      const [locked] = (
        await held.query<{ id: string }>(
          'SELECT id FROM mcp_oauth_credentials WHERE enc_key_version = 1 ORDER BY id LIMIT 1 FOR UPDATE',
        )
      ).rows;
      expect(await runRewrapCommand(env({ ENCRYPTION_KEYS: ROTATED }), out, app, { batchSize: 2 })).toBe(
        RewrapExit.RowsRemain,
      );
      expect(out.text).toContain(
        'mcp_oauth_credentials: 5 row(s) moved to version 2\n  1 row(s) remain on version 1',
      );
      expect(out.text).toContain('rotation_scratch_secrets: 3 row(s) moved to version 2');
      expect(out.text).toMatch(/run the command again/);
      // Progress, one line per batch (not a terminal): batches of two.
      expect(out.text).toMatch(/mcp_oauth_credentials: 2\/\d+\n/);
      const still = await suite.db.query<Row>(
        'SELECT * FROM mcp_oauth_credentials WHERE enc_key_version = 1',
      );
      expect(still.map((r) => r.id)).toEqual([locked!.id]);
    } finally {
      await held.query('ROLLBACK');
      await held.end();
    }

    const again = new Output(true);
    expect(await runRewrapCommand(env({ ENCRYPTION_KEYS: ROTATED }), again, app)).toBe(RewrapExit.Done);
    expect(again.text).toContain('\rmcp_oauth_credentials [');
    expect(again.text).toContain('version(s) 1 may now be dropped from ENCRYPTION_KEYS');
    expect(await versions()).toEqual([2]);
    expect(
      (
        await suite.db.query<{ v: number }>(
          'SELECT DISTINCT enc_key_version AS v FROM rotation_scratch_secrets',
        )
      ).map((r) => r.v),
    ).toEqual([2]);
  });

  it('serves every credential once version 1 is dropped and ENCRYPTION_MIN_VERSION raised', async () => {
    const v2only = await suite.boot({ ENCRYPTION_KEYS: `2:${NEW}`, ENCRYPTION_MIN_VERSION: '2' });
    for (const row of await rows()) {
      await suite.db.query(
        `UPDATE mcp_oauth_credentials SET access_token_expires_at = now() WHERE id = $1 AND access_token_enc IS NOT NULL`,
        [row.id],
      );
      expect((await ask(v2only, row.user_id)).status).toBe(200);
    }
    const scratchService = new EncryptionService({ keys: [{ version: 2, secret: NEW }] });
    const scratchRows = await suite.db.query<{ id: number; secret_enc: Buffer }>(
      'SELECT id, secret_enc FROM rotation_scratch_secrets ORDER BY id',
    );
    expect(
      scratchRows.map((r) => scratchService.decrypt(r.secret_enc, 2, scratch.field(r, 'secret_enc'))),
    ).toEqual(['scratch-secret-1', 'scratch-secret-2', 'scratch-secret-3']);
  });

  it('lists rows it cannot decrypt by key, never by value, and exits non-zero', async () => {
    await deposit(v1, 'rot-late'); // written by a stale instance still on version 1: readable, moved
    await deposit(rotated, 'rot-tampered');
    const [target] = await suite.db.query<Row>(
      `SELECT c.* FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id WHERE u.external_id = 'rot-tampered'`,
    );
    // A flipped byte, and a version the value was not written under: it cannot authenticate.
    await suite.db.query(
      `UPDATE mcp_oauth_credentials
       SET refresh_token_enc = set_byte(refresh_token_enc, 20, get_byte(refresh_token_enc, 20) # 1),
           enc_key_version = 1
       WHERE id = $1`,
      [target!.id],
    );

    const out = new Output();
    expect(await runRewrapCommand(env({ ENCRYPTION_KEYS: ROTATED }), out, app)).toBe(RewrapExit.Unreadable);
    expect(out.text).toContain(`unreadable: id=${target!.id} (version 1, decryption failed)`);
    expect(out.text).toContain('mcp_oauth_credentials: 1 row(s) moved to version 2');
    expect(out.text).toContain('1 row(s) remain on version 1');
    expect(out.text).toMatch(/keep every secret/);
    for (const s of secrets) expect(out.text).not.toContain(s);

    // A version that is not configured at all is reported as a missing key.
    await suite.db.query('UPDATE mcp_oauth_credentials SET enc_key_version = 7 WHERE id = $1', [target!.id]);
    const missing = new Output();
    expect(await runRewrapCommand(env({ ENCRYPTION_KEYS: ROTATED }), missing, app)).toBe(
      RewrapExit.Unreadable,
    );
    expect(missing.text).toContain(`unreadable: id=${target!.id} (version 7, key missing)`);
    await suite.db.query('DELETE FROM mcp_oauth_credentials WHERE id = $1', [target!.id]);
  });

  it('refuses to run without a key or a database', async () => {
    const out = new Output();
    expect(await runRewrapCommand(env({}), out, app)).toBe(RewrapExit.Failed);
    expect(out.text).toMatch(/ENCRYPTION_KEY/);
    expect(await runRewrapCommand({ ENCRYPTION_KEY: NEW }, new Output(), app)).toBe(RewrapExit.Failed);
  });

  it('runs as `npm run credentials:rewrap`, on every encrypted table the app defines', async () => {
    const count = (await rows()).length;
    expect(count).toBeGreaterThan(5);
    const { stdout } = await promisify(execFile)(
      'npm',
      ['run', '-s', 'credentials:rewrap', '--', '--batch-size=50'],
      {
        cwd: join(__dirname, '..', '..', '..'),
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: 'test',
          DATABASE_URL: suite.db.url,
          ENCRYPTION_KEYS: `2:${NEW},3:${OLD}`,
        },
      },
    );
    expect(stdout).toMatch(/Rewrapping .*mcp_oauth_credentials.* to key version 3/);
    expect(stdout).toContain(`mcp_oauth_credentials: ${count} row(s) moved to version 3`);
    expect(stdout).toContain(
      'Every row is on version 3: version(s) 2 may now be dropped from ENCRYPTION_KEYS.',
    );
    expect(await versions()).toEqual([3]);
  }, 120_000);

  it('leaves no secret in plaintext in any table, and none in the logs', async () => {
    const all = [...secrets, ...server.issued];
    expect(all.length).toBeGreaterThan(10);
    expect(await plaintextInTables(suite.db, all)).toEqual([]);
    expect(v1.logs.leaked(all)).toEqual([]);
  });
});
