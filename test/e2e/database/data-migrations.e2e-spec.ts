import { DataSource } from 'typeorm';
import { MIGRATIONS } from 'migrations/index';
import { AddApiKeyRolls1796800000000 } from 'migrations/1796800000000-AddApiKeyRolls';
import { AddAuditCallerRequestId1796154835854 } from 'migrations/1796154835854-AddAuditCallerRequestId';
import { AddOrgTokenScopesAndRoll1796820000000 } from 'migrations/1796820000000-AddOrgTokenScopesAndRoll';
import { AddOrgTokenMintedFor1796950000000 } from 'migrations/1796950000000-AddOrgTokenMintedFor';
import { AddApiKeyUsageDays1797030000000 } from 'migrations/1797030000000-AddApiKeyUsageDays';
import { dataSourceOptions } from 'src/database/data-source-options';
import { e2eSuite } from 'test/helpers/app';

const UUID = '3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f';

/**
 * The hardening migrations on a database that already holds rows from before them: what each row becomes
 * (request ids, provider key prefixes and lookup ids, key origins, provisioned users).
 */
describe('data migrations over rows written before them', () => {
  const suite = e2eSuite({ issuers: false });

  const migrate = async (migrations: typeof MIGRATIONS, url = suite.db.url): Promise<void> => {
    const ds = new DataSource({ ...dataSourceOptions(url, []), migrations });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await ds.destroy();
    }
  };
  /** Reverts the applied migrations down to (and including) `to`, last first. */
  const revert = async (to: (typeof MIGRATIONS)[number], url: string): Promise<void> => {
    const ds = new DataSource({ ...dataSourceOptions(url, []), migrations: MIGRATIONS });
    await ds.initialize();
    try {
      for (let n = MIGRATIONS.length - MIGRATIONS.indexOf(to); n > 0; n--)
        await ds.undoLastMigration({ transaction: 'each' });
    } finally {
      await ds.destroy();
    }
  };

  /** A user and its default project, on a database whose schema is fully migrated. */
  const userWithProject = async (db: Awaited<ReturnType<typeof suite.database>>) => {
    const [user] = await db.query<{ id: string }>(
      `INSERT INTO users (external_id) VALUES ('u') RETURNING id`,
    );
    const [project] = await db.query<{ id: string }>(
      `INSERT INTO projects (user_id, name, is_default) VALUES ($1, 'Default', true) RETURNING id`,
      [user!.id],
    );
    return { user: user!, project: project! };
  };

  it('classifies and rewrites the rows written before them', async () => {
    const firstNew = MIGRATIONS.indexOf(AddAuditCallerRequestId1796154835854);
    expect(firstNew).toBeGreaterThan(0);
    await migrate(MIGRATIONS.slice(0, firstNew));

    // Before: a user first seen in the settings UI (later provisioned), a user provisioning created, a
    // provider, and one key of each kind, with the audit rows the code of the time wrote.
    const [uiUser] = await suite.db.query<{ id: string }>(
      `INSERT INTO users (external_id, created_at) VALUES ('ui', now() - interval '1 day') RETURNING id`,
    );
    const [provUser] = await suite.db.query<{ id: string }>(
      `INSERT INTO users (external_id, email) VALUES ('prov', 'p@example.com') RETURNING id`,
    );
    const project = async (userId: string) =>
      (
        await suite.db.query<{ id: string }>(
          `INSERT INTO projects (user_id, name, is_default) VALUES ($1, 'Default', true) RETURNING id`,
          [userId],
        )
      )[0]!.id;
    const uiProject = await project(uiUser!.id);
    const provProject = await project(provUser!.id);
    const [provider] = await suite.db.query<{ id: string }>(
      `INSERT INTO billing_providers (slug, name, auth_url, api_base)
       VALUES ('acme', 'Acme', 'https://a.test/auth', 'https://api.a.test') RETURNING id`,
    );
    const key = async (
      keyId: string,
      prefix: string,
      userId: string,
      projectId: string,
      providerId: string | null,
    ) =>
      (
        await suite.db.query<{ id: string }>(
          `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, billing_provider_id)
           VALUES ($1::text, md5($1::text) || md5($1::text), $2, 'provisioned', $3, $4, $5) RETURNING id`,
          [keyId, prefix, userId, projectId, providerId],
        )
      )[0]!.id;
    const uiKey = await key('aaaaaaaaaaaaaaaa', 'ksk_aaaaaaaa', uiUser!.id, uiProject, null);
    const providerKey = await key('live0123ABCD', 'pk_live0123A', uiUser!.id, uiProject, provider!.id);
    const provKey = await key('bbbbbbbbbbbbbbbb', 'ksk_bbbbbbbb', provUser!.id, provProject, null);
    const uiProvKey = await key('cccccccccccccccc', 'ksk_cccccccc', uiUser!.id, uiProject, null);
    const audit = (action: string, target: string, requestId: string, metadata: object) =>
      suite.db.query(
        `INSERT INTO audit_events (actor, action, target_type, target_id, request_id, metadata)
         VALUES ('x', $1, 'api_key', $2, $3, $4)`,
        [action, target, requestId, JSON.stringify(metadata)],
      );
    await audit('api_key.create', uiKey, 'caller-chosen-id', { keyPrefix: 'ksk_aaaaaaaa', kind: 'minted' });
    await audit('api_key.create', providerKey, UUID, { keyPrefix: 'pk_live0123A', kind: 'provider' });
    await audit('api_key.revoke', providerKey, UUID, { keyPrefix: 'pk_live0123A' });
    await audit('api_key.provisioned', provKey, UUID, {
      keyPrefix: 'ksk_bbbbbbbb',
      userId: provUser!.id,
      orgId: 'org-7',
    });
    // Written in the transaction that created the user: the same now(), to the microsecond.
    await suite.db.query(
      `UPDATE audit_events SET at = (SELECT created_at FROM users WHERE external_id = 'prov') WHERE target_id = $1`,
      [provKey],
    );
    await audit('api_key.provisioned', uiProvKey, UUID, {
      keyPrefix: 'ksk_cccccccc',
      userId: uiUser!.id,
      orgId: 'org-7',
    });

    await migrate(MIGRATIONS);

    const requestIds = await suite.db.query<{ request_id: string | null; caller_request_id: string | null }>(
      `SELECT request_id, caller_request_id FROM audit_events WHERE target_id = $1 AND action = 'api_key.create'`,
      [uiKey],
    );
    expect(requestIds).toEqual([{ request_id: null, caller_request_id: 'caller-chosen-id' }]);
    expect(
      await suite.db.query(
        `SELECT DISTINCT request_id, caller_request_id FROM audit_events WHERE target_id = $1`,
        [providerKey],
      ),
    ).toEqual([{ request_id: UUID, caller_request_id: null }]);

    const keys = await suite.db.query<{
      id: string;
      key_id: string;
      key_prefix: string;
      origin: string;
      admin_org_id: null;
    }>('SELECT id, key_id, key_prefix, origin, admin_org_id FROM api_keys');
    const byId = (id: string) => keys.find((k) => k.id === id)!;
    expect(byId(uiKey)).toMatchObject({ key_prefix: 'ksk_aaaaaaaa', origin: 'minted', admin_org_id: null });
    expect(byId(uiProvKey)).toMatchObject({ origin: 'provisioned' });
    expect(byId(provKey)).toMatchObject({ origin: 'provisioned' });
    expect(byId(providerKey)).toMatchObject({ key_prefix: '****', origin: 'provider' });
    expect(byId(providerKey).key_id).toMatch(/^[0-9a-f]{16}$/);
    const providerAudit = await suite.db.query<{ prefix: string }>(
      `SELECT metadata->>'keyPrefix' AS prefix FROM audit_events WHERE target_id = $1`,
      [providerKey],
    );
    expect(providerAudit).toEqual([{ prefix: '****' }, { prefix: '****' }]);

    const users = await suite.db.query<{ external_id: string; provisioned_org_id: string | null }>(
      'SELECT external_id, provisioned_org_id FROM users ORDER BY external_id',
    );
    expect(users).toEqual([
      { external_id: 'prov', provisioned_org_id: 'org-7' },
      { external_id: 'ui', provisioned_org_id: null },
    ]);
  });

  it('gives every org token written before scopes existed `admin`, live or not, and no roll', async () => {
    const db = await suite.database();
    const firstNew = MIGRATIONS.indexOf(AddOrgTokenScopesAndRoll1796820000000);
    expect(firstNew).toBeGreaterThan(0);
    await migrate(MIGRATIONS.slice(0, firstNew), db.url);
    await db.query(
      `INSERT INTO org_tokens (name, token_hash, prefix, created_by, revoked_at)
       VALUES ('live', repeat('a', 64), 'kso_aaaaaaaa', 'admin-token', NULL),
              ('revoked', repeat('b', 64), 'kso_bbbbbbbb', 'admin-token', now())`,
    );

    await migrate(MIGRATIONS, db.url);

    expect(
      await db.query('SELECT name, scopes, successor_id, grace_ends_at FROM org_tokens ORDER BY name'),
    ).toEqual([
      { name: 'live', scopes: ['admin'], successor_id: null, grace_ends_at: null },
      { name: 'revoked', scopes: ['admin'], successor_id: null, grace_ends_at: null },
    ]);
    // The catalog and "at least one" hold in the table itself.
    await expect(db.query(`UPDATE org_tokens SET scopes = '{}'`)).rejects.toThrow(/chk_org_tokens_scopes/);
    await expect(db.query(`UPDATE org_tokens SET scopes = '{root}'`)).rejects.toThrow(
      /chk_org_tokens_scopes/,
    );
  });

  it('reverting the rolls and scopes leaves no rolled secret live again and no narrow org token admin', async () => {
    const db = await suite.database();
    await migrate(MIGRATIONS, db.url);
    const { user, project } = await userWithProject(db);
    /** A key; `roll` is SQL for its (rolled_at, grace_ends_at, grace_unused_seconds, last_used_at). */
    const key = async (label: string, roll = 'NULL, NULL, NULL, NULL', successorId: string | null = null) =>
      (
        await db.query<{ id: string }>(
          `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, origin, successor_id,
                                 rolled_at, grace_ends_at, grace_unused_seconds, last_used_at)
           VALUES (substr(md5($1::text), 1, 16), md5($1::text) || md5($1::text), 'ksk_' || substr(md5($1::text), 1, 8), $1::text, $2, $3, 'minted', $4,
                   ${roll})
           RETURNING id`,
          [label, user.id, project.id, successorId],
        )
      )[0]!.id;
    await key('in-grace', `now(), now() + interval '1 day', NULL, NULL`, await key('successor'));
    await key(
      'grace-over',
      `now() - interval '2 days', now() - interval '1 hour', NULL, NULL`,
      await key('successor-2'),
    );
    await key(
      'unused-over',
      `now() - interval '2 days', now() + interval '1 day', 60, now() - interval '1 day'`,
      await key('successor-3'),
    );
    const token = async (name: string, scopes: string, successorId: string | null, grace: string | null) =>
      (
        await db.query<{ id: string }>(
          `INSERT INTO org_tokens (name, token_hash, prefix, created_by, minted_for, scopes, successor_id, grace_ends_at)
           VALUES ($1::text, md5($1::text) || md5($1::text), 'kso_' || substr(md5($1::text), 1, 8), 'admin-token', 'admin-token', $2::text[], $3,
                   ${grace ?? 'NULL'})
           RETURNING id`,
          [name, scopes, successorId],
        )
      )[0]!.id;
    const tokenSuccessor = await token('t-successor', '{admin}', null, null);
    await token('t-in-grace', '{admin}', tokenSuccessor, `now() + interval '1 day'`);
    await token(
      't-grace-over',
      '{admin}',
      await token('t-successor-2', '{admin}', null, null),
      `now() - interval '1 hour'`,
    );
    await token('t-narrow', '{audit:read}', null, null);
    await token('t-admin-and-more', '{admin,audit:read}', null, null);

    await revert(AddApiKeyRolls1796800000000, db.url);

    const keys = await db.query<{ label: string; revoked: string; revoked_reason: string | null }>(
      `SELECT label, revoked_reason,
              CASE WHEN revoked_at IS NULL THEN 'live'
                   WHEN revoked_at > now() - interval '1 minute' THEN 'now'
                   ELSE 'at grace end' END AS revoked
         FROM api_keys ORDER BY label`,
    );
    expect(keys).toEqual([
      { label: 'grace-over', revoked: 'at grace end', revoked_reason: 'rolled' },
      { label: 'in-grace', revoked: 'now', revoked_reason: 'rolled' },
      { label: 'successor', revoked: 'live', revoked_reason: null },
      { label: 'successor-2', revoked: 'live', revoked_reason: null },
      { label: 'successor-3', revoked: 'live', revoked_reason: null },
      { label: 'unused-over', revoked: 'at grace end', revoked_reason: 'rolled' },
    ]);
    // The unused limit's end: the last use + 60 s + the 150 s slack, not the planned end a day ahead.
    const [unused] = await db.query<{ ok: boolean }>(
      `SELECT revoked_at = last_used_at + interval '210 seconds' AS ok FROM api_keys WHERE label = 'unused-over'`,
    );
    expect(unused).toEqual({ ok: true });
    const tokens = await db.query<{ name: string; revoked: string }>(
      `SELECT name, CASE WHEN revoked_at IS NULL THEN 'live'
                         WHEN revoked_at > now() - interval '1 minute' THEN 'now'
                         ELSE 'at grace end' END AS revoked
         FROM org_tokens ORDER BY name`,
    );
    expect(tokens).toEqual([
      { name: 't-admin-and-more', revoked: 'live' },
      { name: 't-grace-over', revoked: 'at grace end' },
      { name: 't-in-grace', revoked: 'now' },
      { name: 't-narrow', revoked: 'now' },
      { name: 't-successor', revoked: 'live' },
      { name: 't-successor-2', revoked: 'live' },
    ]);

    // And up again: the chain still applies over these rows.
    await migrate(MIGRATIONS, db.url);
  });

  it('reverting the compacted usage days puts their hours back into hour rows, adding up an hour twice', async () => {
    const db = await suite.database();
    await migrate(MIGRATIONS, db.url);
    const { user, project } = await userWithProject(db);
    const [key] = await db.query<{ id: string }>(
      `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, origin)
       VALUES ('0123456789abcdef', md5('k') || md5('k'), 'ksk_01234567', 'k', $1, $2, 'minted') RETURNING id`,
      [user.id, project.id],
    );
    const H = Date.parse('2030-02-02T00:00:00Z') / 1000;
    // 00:00 twice in the day (a late flush compacted after its day), and an hour row for 00:00 as well.
    await db.query(
      `INSERT INTO api_key_usage_days (api_key_id, day, counts, valid, refused) VALUES ($1, '2030-02-02T00:00:00Z', $2, 13, 3)`,
      [key!.id, `${H},2,2,${H + 3600},1,0,${H},10,1`],
    );
    await db.query(
      `INSERT INTO api_key_usage (api_key_id, hour, valid, refused) VALUES ($1, '2030-02-02T00:00:00Z', 1, 1)`,
      [key!.id],
    );

    await revert(AddApiKeyUsageDays1797030000000, db.url);

    const hours = await db.query<{ hour: Date; valid: string; refused: string }>(
      'SELECT hour, valid, refused FROM api_key_usage ORDER BY hour',
    );
    expect(hours.map((h) => [h.hour.toISOString(), Number(h.valid), Number(h.refused)])).toEqual([
      ['2030-02-02T00:00:00.000Z', 13, 4],
      ['2030-02-02T01:00:00.000Z', 1, 0],
    ]);
    await migrate(MIGRATIONS, db.url);
  });

  it('gives every org token written before lineage its person: rolls and token-minted tokens follow', async () => {
    const db = await suite.database();
    await migrate(MIGRATIONS.slice(0, MIGRATIONS.indexOf(AddOrgTokenMintedFor1796950000000)), db.url);
    const token = async (name: string, prefix: string, createdBy: string, minutesAgo: number) =>
      (
        await db.query<{ id: string }>(
          `INSERT INTO org_tokens (name, token_hash, prefix, created_by, created_at)
           VALUES ($1::text, md5($1::text) || md5($1::text), $2, $3, now() - make_interval(mins => $4))
           RETURNING id`,
          [name, prefix, createdBy, minutesAgo],
        )
      )[0]!.id;
    const root = await token('root', 'kso_root0000', 'session:boss', 60);
    const child = await token('child', 'kso_child000', 'org-token:kso_root0000', 50);
    await token('grandchild', 'kso_grand000', 'org-token:kso_child000', 40);
    // Rolled by ADMIN_TOKEN, and the roll's successor rolled by itself: both still the boss's.
    const rolled = await token('rolled', 'kso_rolled00', 'admin-token', 30);
    const rolledAgain = await token('rolled-again', 'kso_rolled01', 'org-token:kso_rolled00', 20);
    const link = (from: string, to: string) =>
      db.query(`UPDATE org_tokens SET successor_id = $2, grace_ends_at = now() WHERE id = $1`, [from, to]);
    await link(child, rolled);
    await link(rolled, rolledAgain);
    // A prefix two tokens share names neither: the token it minted keeps its own created_by.
    await token('twin-1', 'kso_twin0000', 'session:boss', 15);
    await token('twin-2', 'kso_twin0000', 'admin-token', 14);
    await token('twin-child', 'kso_twinkid0', 'org-token:kso_twin0000', 10);
    await token('ops', 'kso_ops00000', 'admin-token', 5);
    expect(root).toBeDefined();

    await migrate(MIGRATIONS, db.url);

    expect(await db.query('SELECT name, minted_for FROM org_tokens ORDER BY name')).toEqual([
      { name: 'child', minted_for: 'session:boss' },
      { name: 'grandchild', minted_for: 'session:boss' },
      { name: 'ops', minted_for: 'admin-token' },
      { name: 'rolled', minted_for: 'session:boss' },
      { name: 'rolled-again', minted_for: 'session:boss' },
      { name: 'root', minted_for: 'session:boss' },
      { name: 'twin-1', minted_for: 'session:boss' },
      { name: 'twin-2', minted_for: 'admin-token' },
      { name: 'twin-child', minted_for: 'org-token:kso_twin0000' },
    ]);
  });
});
