import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeyCheckMismatchError } from 'src/crypto/encryption/encryption.errors';
import { keyCheckValue } from 'src/crypto/encryption/encryption.service';
import { APP_REGISTRATIONS } from 'src/app.registrations';
import { RewrapExit, runRewrapCommand } from 'src/crypto/encryption/rewrap-command';
import type { Env } from 'src/config/env-reader';
import { e2eSuite, type TestApp } from 'test/helpers/app';
import { depositCredential } from 'test/helpers/credentials';
import { sessionBearer } from 'test/helpers/issuers';
import { secretsInTables } from 'test/helpers/table-scan';

const A = 'key-check-secret-a-0123456789abcdefghijkl';
const B = 'key-check-secret-b-0123456789abcdefghijkl';
const C = 'key-check-secret-c-0123456789abcdefghijkl';
const D = 'key-check-secret-d-0123456789abcdefghijkl';
const E = 'key-check-secret-e-0123456789abcdefghijkl';
const F = 'key-check-secret-f-0123456789abcdefghijkl';
const ROOT = join(__dirname, '..', '..', '..');

interface CheckRow {
  version: number;
  check_value: Buffer;
}
interface CredentialRow {
  id: string;
  enc_key_version: number;
  refresh_token_enc: Buffer;
}

class Output {
  text = '';
  write(s: string): void {
    this.text += s;
  }
}

/**
 * Issue 16, item 4: every instance on one database must give a key version the same secret. The first
 * instance to see a version records its check value; an instance (or the rewrap) whose secret does not match
 * refuses to start, naming the variable and the version, never a value.
 */
describe('encryption key checks: a wrong secret under a known version refuses to start', () => {
  const suite = e2eSuite();
  const secrets = [A, B, C, D, E, F];
  let writer: TestApp;

  const checks = () =>
    suite.db.query<CheckRow>('SELECT version, check_value FROM encryption_key_checks ORDER BY version');
  const recorded = async () => (await checks()).map((r) => r.version);
  const credentials = () =>
    suite.db.query<CredentialRow>(
      'SELECT id, enc_key_version, refresh_token_enc FROM mcp_oauth_credentials ORDER BY id',
    );

  /** Boots an instance that must refuse; its error. */
  async function refusal(env: Env): Promise<KeyCheckMismatchError> {
    const outcome = await suite.boot(env).then(
      () => new Error('the instance started'),
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(KeyCheckMismatchError);
    const err = outcome as KeyCheckMismatchError;
    for (const s of secrets) expect(err.message).not.toContain(s);
    return err;
  }

  async function deposit(app: TestApp, sub: string): Promise<void> {
    const refreshToken = `key-check-refresh-token-${sub}-0123456789`;
    secrets.push(refreshToken);
    await depositCredential(app.http, await sessionBearer(suite.session, sub), {
      mcpServerId: 'srv',
      refreshToken,
      tokenEndpoint: 'http://127.0.0.1:9/token',
    });
  }

  it('without a key, starts and records nothing (the key is read lazily)', async () => {
    await suite.boot({});
    expect(await checks()).toEqual([]);
  });

  it('the first instance records version 1; a second with the same secret starts and reads its rows', async () => {
    writer = await suite.boot({ ENCRYPTION_KEY: A });
    expect(await checks()).toEqual([{ version: 1, check_value: keyCheckValue(A, 1) }]);
    expect(writer.logs.text()).toContain('recorded the key-check value of new encryption key versions');

    const same = await suite.boot({ ENCRYPTION_KEY: A });
    await deposit(writer, 'kc-1');
    await deposit(same, 'kc-2');
    expect(await recorded()).toEqual([1]);
    // ENCRYPTION_KEYS with the same secret as version 1 is the same key.
    await suite.boot({ ENCRYPTION_KEYS: `1:${A}` });
  });

  it('another secret under version 1 refuses to start, naming the variable and the version', async () => {
    const single = await refusal({ ENCRYPTION_KEY: B });
    expect(single.message).toMatch(/^ENCRYPTION_KEY: the secret of encryption key version 1 is not the one/);
    expect(single.message).toContain('docs/operations.md');

    const list = await refusal({ ENCRYPTION_KEYS: `1:${B},2:${C}` });
    expect(list.message).toMatch(/^ENCRYPTION_KEYS: the secret of encryption key version 1 /);
    // Refused before it recorded anything: version 2 is still free.
    expect(await recorded()).toEqual([1]);
  });

  it('a version added later records its value, and a wrong secret for it then refuses', async () => {
    await suite.boot({ ENCRYPTION_KEYS: `1:${A},2:${C}` });
    expect(await checks()).toEqual([
      { version: 1, check_value: keyCheckValue(A, 1) },
      { version: 2, check_value: keyCheckValue(C, 2) },
    ]);
    const wrong = await refusal({ ENCRYPTION_KEYS: `1:${A},2:${D}` });
    expect(wrong.message).toMatch(/^ENCRYPTION_KEYS: the secret of encryption key version 2 /);
    expect(wrong.version).toBe(2);
  });

  it('two instances meeting a new version at once with different secrets: exactly one starts', async () => {
    const outcomes = await Promise.allSettled([
      suite.boot({ ENCRYPTION_KEYS: `1:${A},2:${C},5:${E}` }),
      suite.boot({ ENCRYPTION_KEYS: `1:${A},2:${C},5:${F}` }),
    ]);
    const started = outcomes.findIndex((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(started).toBeGreaterThanOrEqual(0);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(KeyCheckMismatchError);
    expect((refused[0]!.reason as KeyCheckMismatchError).version).toBe(5);
    const [five] = (await checks()).filter((r) => r.version === 5);
    expect(five!.check_value).toEqual(keyCheckValue(started === 0 ? E : F, 5));
  });

  it('the rewrap refuses on a mismatch before touching a row', async () => {
    const before = await credentials();
    expect(before.map((r) => r.enc_key_version)).toEqual([1, 1]);
    const env = (keys: string) => ({ NODE_ENV: 'test', DATABASE_URL: suite.db.url, ENCRYPTION_KEYS: keys });

    for (const [keys, version] of [
      [`1:${A},2:${D}`, 2],
      [`1:${B},2:${C}`, 1],
    ] as const) {
      const out = new Output();
      expect(await runRewrapCommand(env(keys), out, APP_REGISTRATIONS)).toBe(RewrapExit.Failed);
      expect(out.text).toMatch(
        new RegExp(`^ENCRYPTION_KEYS: the secret of encryption key version ${version} `),
      );
      expect(out.text).not.toContain('Rewrapping');
      for (const s of secrets) expect(out.text).not.toContain(s);
      expect(await credentials()).toEqual(before);
    }

    const out = new Output();
    expect(await runRewrapCommand(env(`1:${A},2:${C}`), out, APP_REGISTRATIONS)).toBe(RewrapExit.Done);
    expect((await credentials()).map((r) => r.enc_key_version)).toEqual([2, 2]);
  });

  it('on upgrade, a secret that opens none of its version stored values refuses; one tampered row does not', async () => {
    // Rows written before key checks existed: version-1 rows, and no check value recorded yet.
    await deposit(writer, 'kc-3');
    await deposit(writer, 'kc-4');
    await suite.db.query('DELETE FROM encryption_key_checks');

    const wrong = await refusal({ ENCRYPTION_KEY: B });
    expect(wrong.message).toMatch(
      /^ENCRYPTION_KEY: the secret of encryption key version 1 decrypts none of the values stored under version 1\./,
    );
    expect(await checks()).toEqual([]);

    // One of the two version-1 rows is damaged: the other still proves the secret right.
    const [damaged] = (await credentials()).filter((r) => r.enc_key_version === 1);
    await suite.db.query(
      `UPDATE mcp_oauth_credentials
       SET refresh_token_enc = set_byte(refresh_token_enc, 20, get_byte(refresh_token_enc, 20) # 1)
       WHERE id = $1`,
      [damaged!.id],
    );
    await suite.boot({ ENCRYPTION_KEY: A });
    expect(await checks()).toEqual([{ version: 1, check_value: keyCheckValue(A, 1) }]);
  });

  it('the process refuses to start: exit code 1, the variable and the version on stderr, never the secret', async () => {
    const run = promisify(execFile)(
      join(ROOT, 'node_modules', '.bin', 'ts-node'),
      ['--transpile-only', '-r', 'tsconfig-paths/register', 'src/main.ts'],
      {
        cwd: ROOT,
        timeout: 110_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: 'test',
          HOST: '127.0.0.1',
          PORT: '0',
          DATABASE_URL: suite.db.url,
          ENCRYPTION_KEY: B,
        },
      },
    );
    const failed = (await run.then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (err: unknown) => err,
    )) as { code: number; stdout: string; stderr: string };
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      'Startup failed: ENCRYPTION_KEY: the secret of encryption key version 1 is not the one recorded',
    );
    for (const s of secrets) expect(`${failed.stdout}\n${failed.stderr}`).not.toContain(s);
  }, 120_000);

  it('leaves no secret in any table or in the logs', async () => {
    expect(await secretsInTables(suite.db, secrets)).toEqual([]);
    expect(writer.logs.leaked(secrets)).toEqual([]);
  });
});
