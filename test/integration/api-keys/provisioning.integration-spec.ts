import { DataSource } from 'typeorm';
import { hashApiKey } from 'src/api-keys/api-key-format';
import { ApiKeysModule } from 'src/api-keys/api-keys.module';
import { DeveloperKeysService } from 'src/api-keys/developer-keys.service';
import type { ProvisionApiKeyDto } from 'src/api-keys/dto/provisioning.dto';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { AuditModule } from 'src/audit/audit.module';
import type { AuditContext } from 'src/audit/audit.service';
import { startModules, type TestModules } from 'test/helpers/modules';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { sessionCaller, user } from 'test/helpers/factories';
import { concurrently, eventually } from 'test/helpers/waiting';

const ORG = 'org-integration';

/**
 * ProvisioningService on a real database. One transaction per call finds or creates the user and their
 * default project, then revokes the user's live keys of the name and mints the new one, holding the user's
 * row lock: concurrent calls for one user run one after the other.
 */
describe('provisioning, serialized per user', () => {
  let db: TestDatabase;
  let modules: TestModules;
  let provisioning: ProvisioningService;
  let dataSource: DataSource;
  const ctx: AuditContext = { actor: 'm2m:integration', ip: null, requestId: null };
  /** The M2M client provisioning for ORG (in development, with PROVISION_CLIENTS unset, any client may). */
  const CLIENT_ID = 'integration';
  /** Every key this file minted: none may reach a log line. */
  const secrets: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    modules = await startModules(db, [AuditModule, ApiKeysModule], {
      env: { PROVISION_ALLOWED_ORG_IDS: ORG },
    });
    provisioning = modules.moduleRef.get(ProvisioningService);
    dataSource = modules.moduleRef.get(DataSource);
  });

  afterAll(async () => {
    expect(modules?.logs.leaked(secrets)).toEqual([]);
    await modules?.close();
    await db?.drop();
  });

  /** Provisions through the service, keeping the key for the leak scan. */
  const provision = async (body: ProvisionApiKeyDto) => {
    const result = await provisioning.provision(ctx, CLIENT_ID, body);
    secrets.push(result.apiKey);
    return result;
  };
  const dto = (externalId: string, extra: Partial<ProvisionApiKeyDto> = {}): ProvisionApiKeyDto => ({
    externalId,
    email: 'integration@example.com',
    orgId: ORG,
    ...extra,
  });
  const liveKeys = (externalId: string) =>
    db.query<{ key_hash: string; label: string; project_id: string }>(
      `SELECT k.key_hash, k.label, k.project_id FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE u.external_id = $1 AND k.revoked_at IS NULL ORDER BY k.label`,
      [externalId],
    );

  it('concurrent calls for one new user leave exactly one live key of that name; each replaced the one before', async () => {
    const results = await concurrently(16, () => provision(dto('burst-user')));
    expect(new Set(results.map((r) => r.userId)).size).toBe(1);
    expect(new Set(results.map((r) => r.projectId)).size).toBe(1);
    const live = await liveKeys('burst-user');
    expect(live).toHaveLength(1);
    const winners = results.filter((r) => hashApiKey(r.apiKey) === live[0]!.key_hash);
    expect(winners).toHaveLength(1);
    // One after the other: the first call revoked nothing, every other one exactly the key minted before it,
    // so every key but the live one was revoked once.
    const audits = await db.query<{ metadata: { revokedKeyIds: string[] } }>(
      `SELECT metadata FROM audit_events WHERE action = 'api_key.provisioned' AND metadata->>'externalId' = $1`,
      ['burst-user'],
    );
    expect(audits.map((a) => a.metadata.revokedKeyIds.length).sort()).toEqual([0, ...Array(15).fill(1)]);
    expect(audits.flatMap((a) => a.metadata.revokedKeyIds).sort()).toEqual(
      results
        .map((r) => r.keyId)
        .filter((id) => id !== winners[0]!.keyId)
        .sort(),
    );
  });

  it('concurrent calls with different names for one user leave one live key per name, in one project', async () => {
    const names = ['agent', 'ci', 'cli'];
    await concurrently(12, (i) => provision(dto('many-names', { keyName: names[i % 3] })));
    const live = await liveKeys('many-names');
    expect(live.map((k) => k.label)).toEqual(['agent', 'ci', 'cli']);
    expect(new Set(live.map((k) => k.project_id)).size).toBe(1);
  });

  it('provisioning racing a developer key create never deadlocks (or fails) for fresh users', async () => {
    const developer = modules.moduleRef.get(DeveloperKeysService);
    for (let i = 0; i < 15; i++) {
      const sub = `racing-user-${i}`;
      // The user exists without a default project (a first session request creates it so): both calls
      // race to create that project, each in its own transaction holding the user's row.
      await user(modules.moduleRef, sub);
      const { principal, ctx: devCtx } = sessionCaller(sub);
      const outcomes = await Promise.allSettled([
        provision(dto(sub)),
        developer.create(principal, { label: 'dev' }, devCtx).then((created) => {
          if (created.secret) secrets.push(created.secret);
        }),
        provision(dto(sub, { keyName: 'second' })),
      ]);
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
      const projects = await db.query(
        `SELECT 1 FROM projects p JOIN users u ON u.id = p.user_id WHERE u.external_id = $1`,
        [sub],
      );
      expect(projects).toHaveLength(1);
    }
    expect(modules.logs.text()).not.toMatch(/40P01|deadlock/i);
  });

  it('waits for the user row: a call for a user whose row another transaction holds completes after it', async () => {
    const first = await provision(dto('lock-holder'));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holder = dataSource.transaction(async (m) => {
      await m.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [first.userId]);
      holding();
      await released;
    });
    await held;
    let done = false;
    const second = provision(dto('lock-holder')).finally(() => (done = true));
    await eventually(
      async () =>
        (
          await db.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
        ).length > 0,
    );
    expect(done).toBe(false);
    release();
    await holder;
    const replaced = await second;
    expect(await liveKeys('lock-holder')).toEqual([
      expect.objectContaining({ key_hash: hashApiKey(replaced.apiKey) }) as unknown,
    ]);
  });
});
