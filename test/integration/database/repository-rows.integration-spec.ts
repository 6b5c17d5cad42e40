import { randomBytes } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { McpOAuthCredentialsRepository } from 'src/credentials/mcp-oauth-credentials.repository';
import { OAuthSessionsRepository } from 'src/oauth-sessions/oauth-sessions.repository';
import { OrgTokensRepository } from 'src/org-tokens/org-tokens.repository';
import { ProjectsRepository } from 'src/projects/projects.repository';
import { UsersRepository } from 'src/users/users.repository';
import { startModules, type TestModules } from 'test/helpers/modules';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';

/**
 * Rows leave a repository in the entities' vocabulary (camelCase, `userId`), never as PostgreSQL spells its
 * columns (`user_id`): every repository method that answers rows of its own SQL, on a real database.
 */
describe('repositories answer camelCase rows', () => {
  let db: TestDatabase;
  let modules: TestModules;
  let dataSource: DataSource;
  let m: EntityManager;

  beforeAll(async () => {
    db = await createTestDatabase();
    modules = await startModules(db, []);
    dataSource = modules.moduleRef.get(DataSource);
    m = dataSource.manager;
  });

  afterAll(async () => {
    await modules?.close();
    await db?.drop();
  });

  /** The keys of `row` that are not camelCase (empty when the row is in the entities' vocabulary). */
  const notCamel = (row: object | undefined): string[] => {
    expect(row).toBeDefined();
    return Object.keys(row!).filter((key) => !/^[a-z][a-zA-Z0-9]*$/.test(key));
  };
  const hex64 = (): string => randomBytes(32).toString('hex');

  const newUser = async (externalId: string): Promise<string> => {
    await new UsersRepository(dataSource).insertIfMissing(externalId, m);
    const [row] = await db.query<{ id: string }>('SELECT id FROM users WHERE external_id = $1', [externalId]);
    return row!.id;
  };

  it('projects: the list and the insert', async () => {
    const projects = new ProjectsRepository(dataSource);
    const userId = await newUser('rows-projects');
    const inserted = await projects.insert(userId, 'Work', m);
    expect(notCamel(inserted)).toEqual([]);
    expect(inserted).toMatchObject({
      name: 'Work',
      isDefault: false,
      createdAt: expect.any(Date) as unknown,
    });
    const [listed] = await projects.listWithKeyCounts(userId, 10);
    expect(notCamel(listed)).toEqual([]);
    expect(listed).toMatchObject({ id: inserted!.id, isDefault: false });
    expect(Number(listed!.apiKeyCount)).toBe(0);
  });

  it('api keys: the resolution lookup, the revocations and the admin org', async () => {
    const keys = new ApiKeysRepository(dataSource);
    const userId = await newUser('rows-api-keys');
    const projectId = (await new ProjectsRepository(dataSource).insertDefault(userId, 'Default', m))!;
    const minted = async (keyId: string, label: string) =>
      (await keys.insert(
        { keyId, hash: hex64(), prefix: keyId.slice(0, 8), label, userId, projectId, origin: 'provisioned' },
        m,
      ))!;
    const id = await minted('rowsresolve01', 'first');

    const [resolvable] = await keys.findResolvable(['rowsresolve01']);
    expect(notCamel(resolvable)).toEqual([]);
    expect(resolvable).toMatchObject({
      id,
      keyId: 'rowsresolve01',
      userId,
      projectId,
      projectName: 'Default',
    });

    expect(await keys.adminOrgOf(id)).toBeNull();
    const revoked = await keys.revokeOwned(userId, id, m);
    expect(notCamel(revoked)).toEqual([]);
    expect(revoked).toEqual({ id, keyId: 'rowsresolve01', keyPrefix: 'rowsreso' });

    await minted('rowsresolve02', 'replaced');
    const [byLabel] = await keys.lockReplaceableProvisioned(userId, 'replaced', m);
    expect(notCamel(byLabel)).toEqual([]);
    expect(byLabel).toMatchObject({ keyId: 'rowsresolve02', createdAt: expect.any(Date) as unknown });
  });

  it('org tokens: the live lookup by hash, and the row a roll locks', async () => {
    const tokens = new OrgTokensRepository(dataSource);
    const tokenHash = hex64();
    const expiresAt = new Date(Date.now() + 3_600_000);
    const [token] = await db.query<{ id: string }>(
      `INSERT INTO org_tokens (name, token_hash, prefix, created_by, minted_for, expires_at)
       VALUES ('rows', $1, 'kso_rows', 'test', 'test', $2) RETURNING id`,
      [tokenHash, expiresAt],
    );
    const live = await tokens.findLiveByHash(tokenHash);
    expect(notCamel(live)).toEqual([]);
    expect(live).toEqual({ id: token!.id, prefix: 'kso_rows', scopes: ['admin'], endsAt: expiresAt });

    const candidate = await dataSource.transaction((tx) => tokens.lockForRoll(token!.id, tx));
    expect(notCamel(candidate)).toEqual([]);
    expect(candidate).toEqual({
      name: 'rows',
      scopes: ['admin'],
      expiresAt,
      revoked: false,
      expired: false,
      rolled: false,
    });
  });

  it('credentials: the deposit, the list, and the usable row with and without its lock', async () => {
    const credentials = new McpOAuthCredentialsRepository(dataSource);
    const userId = await newUser('rows-credentials');
    const deposited = await credentials.upsert(
      {
        userId,
        mcpServerId: 'rows-server',
        tokenEndpoint: 'https://auth.example.test/token',
        clientId: 'client',
        authMethod: 'client_secret_basic',
        scopes: null,
        resource: null,
        revocationEndpoint: null,
        clientSecretExpiresAt: null,
        refreshTokenEnc: Buffer.from('ciphertext'),
        clientSecretEnc: null,
        encKeyVersion: 1,
        validated: false,
      },
      m,
    );
    expect(notCamel(deposited)).toEqual([]);
    expect(deposited).toMatchObject({ mcpServerId: 'rows-server', inserted: true });

    const [listed] = await credentials.listOwned(userId);
    expect(notCamel(listed)).toEqual([]);
    expect(listed).toMatchObject({
      mcpServerId: 'rows-server',
      tokenEndpoint: 'https://auth.example.test/token',
    });

    const usable = await credentials.findUsable(userId, 'rows-server');
    expect(notCamel(usable)).toEqual([]);
    expect(usable).toMatchObject({ userId, encKeyVersion: 1, consecutiveFailures: 0, userDisabledAt: null });
    const locked = await dataSource.transaction((t) => credentials.lockUsable(userId, 'rows-server', t));
    expect(locked).toEqual(usable);
    const health = await dataSource.transaction((t) => credentials.lockHealth(userId, 'rows-server', t));
    expect(notCamel(health)).toEqual([]);
    expect(health).toEqual({
      id: deposited.id,
      reauthorizationRequiredAt: null,
      clientSecretExpiresAt: null,
      consecutiveFailures: 0,
    });
  });

  it('oauth sessions: the insert, the claim, and the reads by state and by owner', async () => {
    const sessions = new OAuthSessionsRepository(dataSource);
    const userId = await newUser('rows-sessions');
    const [provider] = await db.query<{ id: string }>(
      `INSERT INTO billing_providers (slug, name, auth_url, api_base)
       VALUES ('rows', 'Rows', 'https://rows.test/auth', 'https://rows.test/api') RETURNING id`,
    );
    const stateHash = hex64();
    const inserted = await sessions.insert(
      { userId, providerId: provider!.id, stateHash, ttlSeconds: 600 },
      m,
    );
    expect(notCamel(inserted)).toEqual([]);
    expect(inserted.expiresAt).toBeInstanceOf(Date);

    const byState = await sessions.findByState(stateHash);
    expect(notCamel(byState)).toEqual([]);
    expect(byState).toMatchObject({
      userId,
      providerId: provider!.id,
      providerSlug: 'rows',
      userDisabled: false,
    });

    const claimed = await sessions.claim(stateHash, 'rows');
    expect(notCamel(claimed)).toEqual([]);
    expect(claimed).toMatchObject({ userId, providerName: 'Rows', apiBase: 'https://rows.test/api' });

    const owned = await sessions.findOwned(inserted.id, userId, 'rows');
    expect(notCamel(owned)).toEqual([]);
    expect(owned).toMatchObject({ status: 'exchanging', failureReason: null, providerId: provider!.id });

    const locked = await dataSource.transaction(async (t) => {
      const row = await sessions.lockOwned(inserted.id, userId, t);
      expect(await sessions.countWrongCode(inserted.id, t)).toBe(1);
      return row;
    });
    expect(notCamel(locked)).toEqual([]);
    expect(locked).toMatchObject({ completionCodeHash: null, providerKey: null, encKeyVersion: null });
  });
});
