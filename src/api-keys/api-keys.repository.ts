import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiKey, type ApiKeyOrigin, type ApiKeyRevokedReason } from 'src/api-keys/api-key.entity';
import { poolHasWaiters, preparedQuery } from 'src/database/prepared-query';

export interface NewApiKeyRow {
  keyId: string;
  /** SHA-256 of the whole key; the plaintext never reaches the repository. */
  hash: string;
  prefix: string;
  label: string | null;
  userId: string;
  projectId: string;
  origin: ApiKeyOrigin;
  /** Set for a provider-issued key; null for a keysmith-minted one (the only kind that resolves). */
  billingProviderId?: string | null;
  allowedOrigins?: string[];
  expiresAt?: Date | null;
  /** The ORG_ID whose admin session minted the key; null (default) for any other key. */
  adminOrgId?: string | null;
  /** Validated against the form and the catalog (API_KEY_SCOPES) before they get here. Default none. */
  scopes?: string[];
}

/** What a resolution needs of a key, its user and its project: one row. */
export interface ResolvableKeyRow {
  id: string;
  keyId: string;
  keyHash: string;
  keyPrefix: string;
  allowedOrigins: string[];
  scopes: string[];
  revokedAt: Date | null;
  /** The key's (switched off by its owner). */
  keyDisabledAt: Date | null;
  expiresAt: Date | null;
  userId: string;
  externalId: string;
  email: string | null;
  userName: string | null;
  /** The user's. */
  disabledAt: Date | null;
  projectId: string;
  projectName: string;
}

export interface RevokedKeyRow {
  id: string;
  keyId: string;
  keyPrefix: string;
}

/** A key as an offboarding reports it: what breaks when it goes. */
export interface OffboardedKeyRow {
  id: string;
  keyId: string;
  keyPrefix: string;
  label: string | null;
  lastUsedAt: Date | null;
}

/** A PATCH of a key: each field present is set; `enabled` switches `disabled_at` off or on. */
export interface KeyChange {
  label?: string | null;
  expiresAt?: Date;
  allowedOrigins?: string[];
  enabled?: boolean;
}

/**
 * Every query on `api_keys`, for the key lifecycle (developer surface, provisioning) and for resolution.
 * Methods that take a `manager` run in the caller's transaction; none raises a constraint error, so a
 * transaction stays usable.
 */
@Injectable()
export class ApiKeysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Inserts a key and returns its id, or undefined when its lookup id, or the same key for the same user, is
   * already stored (`ON CONFLICT DO NOTHING`).
   */
  async insert(row: NewApiKeyRow, m: EntityManager): Promise<string | undefined> {
    const inserted = await m.query<{ id: string }[]>(
      `INSERT INTO api_keys (key_id, key_hash, key_prefix, label, user_id, project_id, billing_provider_id,
                             allowed_origins, expires_at, admin_org_id, origin, scopes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9, $10, $11, $12::text[])
       ON CONFLICT DO NOTHING RETURNING id`,
      [
        row.keyId,
        row.hash,
        row.prefix,
        row.label,
        row.userId,
        row.projectId,
        row.billingProviderId ?? null,
        row.allowedOrigins ?? [],
        row.expiresAt ?? null,
        row.adminOrgId ?? null,
        row.origin,
        row.scopes ?? [],
      ],
    );
    return inserted[0]?.id;
  }

  /** Whether `userId` already stored a key with this hash. Scoped to the user: others' rows never show. */
  async isStoredBy(userId: string, hash: string, m: EntityManager): Promise<boolean> {
    const rows = await m.query<unknown[]>('SELECT 1 FROM api_keys WHERE user_id = $1 AND key_hash = $2', [
      userId,
      hash,
    ]);
    return rows.length > 0;
  }

  /** One of the user's keys, with its project and billing provider; null when it is not theirs. */
  findOwned(userId: string, id: string, m: EntityManager = this.dataSource.manager): Promise<ApiKey | null> {
    return m.getRepository(ApiKey).findOne({
      where: { id, userId },
      relations: { project: true, billingProvider: true },
    });
  }

  existsOwned(userId: string, id: string, m: EntityManager): Promise<boolean> {
    return m.getRepository(ApiKey).existsBy({ id, userId });
  }

  /**
   * The user's keys (newest first, at most `limit`, live ones only unless `includeRevoked`), and how many
   * match in all: the window runs before LIMIT, so one query counts them.
   */
  async listOwned(
    userId: string,
    filter: { projectId?: string; includeRevoked: boolean },
    limit: number,
  ): Promise<{ keys: ApiKey[]; total: number }> {
    const qb = this.dataSource
      .getRepository(ApiKey)
      .createQueryBuilder('k')
      .innerJoinAndSelect('k.project', 'p')
      .leftJoinAndSelect('k.billingProvider', 'bp')
      .addSelect('COUNT(*) OVER ()', 'total')
      .where('k.userId = :userId', { userId });
    if (filter.projectId) qb.andWhere('k.projectId = :projectId', { projectId: filter.projectId });
    // Without includeRevoked: the keys that can still be used or switched back on (ACTIVE, DISABLED).
    if (!filter.includeRevoked)
      qb.andWhere('k.revokedAt IS NULL AND (k.expiresAt IS NULL OR k.expiresAt > now())');
    const { entities, raw } = await qb
      .orderBy('k.createdAt', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .limit(limit)
      .getRawAndEntities<{ total: string }>();
    return { keys: entities, total: Number(raw[0]?.total ?? 0) };
  }

  /** Revokes the user's key `id` if it is live; undefined when it is not theirs or already revoked. */
  async revokeOwned(userId: string, id: string, m: EntityManager): Promise<RevokedKeyRow | undefined> {
    const [rows] = await m.query<[RevokedKeyRow[], number]>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = 'user'
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
        RETURNING id, key_id AS "keyId", key_prefix AS "keyPrefix"`,
      [id, userId],
    );
    return rows[0];
  }

  /**
   * The user's key `id`, locked for an update until the transaction ends (a DELETE of it waits, or went
   * first); null when it is not theirs.
   */
  findOwnedForUpdate(userId: string, id: string, m: EntityManager): Promise<ApiKey | null> {
    return m.getRepository(ApiKey).findOne({ where: { id, userId }, lock: { mode: 'pessimistic_write' } });
  }

  /**
   * Applies `change` to the user's key `id` unless it is revoked (`revoked_at IS NULL` in the UPDATE itself, so
   * a revocation that commits first is never undone); false when nothing was updated. Disabling keeps the first
   * `disabled_at`; enabling clears it.
   */
  async updateOwned(userId: string, id: string, change: KeyChange, m: EntityManager): Promise<boolean> {
    const [, count] = await m.query<[unknown[], number]>(
      `UPDATE api_keys SET
              label = CASE WHEN $3::boolean THEN $4 ELSE label END,
              expires_at = CASE WHEN $5::boolean THEN $6::timestamptz ELSE expires_at END,
              allowed_origins = CASE WHEN $7::boolean THEN $8::text[] ELSE allowed_origins END,
              disabled_at = CASE WHEN $9::boolean IS NULL THEN disabled_at
                                 WHEN $9::boolean THEN NULL
                                 ELSE COALESCE(disabled_at, now()) END
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
      [
        id,
        userId,
        change.label !== undefined,
        change.label ?? null,
        change.expiresAt !== undefined,
        change.expiresAt ?? null,
        change.allowedOrigins !== undefined,
        change.allowedOrigins ?? [],
        change.enabled ?? null,
      ],
    );
    return count > 0;
  }

  /**
   * Revokes the user's live keys that provisioning minted under `label` (provisioning replaces them). Keys
   * the user minted in the settings UI, or stored from a provider, under that label are theirs and stay.
   */
  async revokeProvisionedByLabel(userId: string, label: string, m: EntityManager): Promise<RevokedKeyRow[]> {
    const [rows] = await m.query<[RevokedKeyRow[], number]>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = 'provisioning'
        WHERE user_id = $1 AND label = $2 AND revoked_at IS NULL AND origin = 'provisioned'
        RETURNING id, key_id AS "keyId", key_prefix AS "keyPrefix"`,
      [userId, label],
    );
    return rows;
  }

  /**
   * The resolution lookup of keys `keyIds` (the lookups that arrived together, see ApiKeyLookup): one
   * indexed read (the unique index on key_id), prepared once per connection, that also brings the users and
   * the projects; at most one row per key id. Only keysmith-minted keys resolve: a provider-issued key is the
   * provider's credential, not one of ours, even when it happens to be shaped like `ksk_<id>_<secret>`.
   */
  findResolvable(keyIds: string[]): Promise<ResolvableKeyRow[]> {
    return preparedQuery<ResolvableKeyRow>(
      this.dataSource,
      'keysmith_api_keys_resolve',
      `SELECT k.id, k.key_id AS "keyId", k.key_hash AS "keyHash", k.key_prefix AS "keyPrefix",
              k.allowed_origins AS "allowedOrigins", k.scopes, k.revoked_at AS "revokedAt",
              k.disabled_at AS "keyDisabledAt", k.expires_at AS "expiresAt",
              u.id AS "userId", u.external_id AS "externalId", u.email, u.name AS "userName",
              u.disabled_at AS "disabledAt", p.id AS "projectId", p.name AS "projectName"
         FROM api_keys k
         JOIN users u ON u.id = k.user_id
         JOIN projects p ON p.id = k.project_id
        WHERE k.key_id = ANY($1::text[]) AND k.billing_provider_id IS NULL`,
      [keyIds],
    );
  }

  /**
   * The org whose admin minted key `id` (`api_keys.id`), or null: read only by the deprecated API-key admin
   * tier, apart from the resolution lookup so the hot path's statement stays as it is.
   */
  async adminOrgOf(id: string): Promise<string | null> {
    const rows = await this.dataSource.query<{ adminOrgId: string | null }[]>(
      'SELECT admin_org_id AS "adminOrgId" FROM api_keys WHERE id = $1',
      [id],
    );
    return rows[0]?.adminOrgId ?? null;
  }

  /** Records a use of keys `ids`, skipping those written less than `precisionSeconds` ago. */
  async markUsed(ids: string[], precisionSeconds: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE api_keys SET last_used_at = now()
        WHERE id = ANY($1::uuid[])
          AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
      [ids, precisionSeconds],
    );
  }

  /** Whether requests are queueing for a pooled connection (last-use writes wait for a quieter moment). */
  poolBusy(): boolean {
    return poolHasWaiters(this.dataSource);
  }

  /** Key `id` of any user, with its project and billing provider (the admin surface); null when none. */
  findById(id: string, m: EntityManager = this.dataSource.manager): Promise<ApiKey | null> {
    return m.getRepository(ApiKey).findOne({
      where: { id },
      relations: { project: true, billingProvider: true, user: true },
    });
  }

  /** Revokes key `id` of any user for `reason` if it is not revoked yet; undefined when it was (or is none). */
  async revokeById(
    id: string,
    reason: ApiKeyRevokedReason,
    m: EntityManager,
  ): Promise<RevokedKeyRow | undefined> {
    const [rows] = await m.query<[RevokedKeyRow[], number]>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = $2
        WHERE id = $1 AND revoked_at IS NULL
        RETURNING id, key_id AS "keyId", key_prefix AS "keyPrefix"`,
      [id, reason],
    );
    return rows[0];
  }

  /**
   * Every key of the user that is not revoked (active, disabled or expired: an expired key could be given a
   * new expiry), newest first, whatever its origin: what an offboarding revokes.
   */
  unrevokedOfUser(userId: string, m: EntityManager): Promise<OffboardedKeyRow[]> {
    return m.query<OffboardedKeyRow[]>(
      `SELECT id, key_id AS "keyId", key_prefix AS "keyPrefix", label, last_used_at AS "lastUsedAt"
         FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`,
      [userId],
    );
  }

  /** Revokes every key of the user that is not revoked yet, for `reason`; the keys, newest first. */
  async revokeAllOfUser(
    userId: string,
    reason: ApiKeyRevokedReason,
    m: EntityManager,
  ): Promise<OffboardedKeyRow[]> {
    const [rows] = await m.query<[(OffboardedKeyRow & { createdAt: Date })[], number]>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = $2
        WHERE user_id = $1 AND revoked_at IS NULL
        RETURNING id, key_id AS "keyId", key_prefix AS "keyPrefix", label, last_used_at AS "lastUsedAt",
                  created_at AS "createdAt"`,
      [userId, reason],
    );
    return rows
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map(({ createdAt: _createdAt, ...row }) => row);
  }
}
