import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiKey, type ApiKeyOrigin, type ApiKeyRevokedReason } from 'src/api-keys/api-key.entity';
import { graceEndedSql } from 'src/api-keys/grace';
import { poolHasWaiters, preparedQuery } from 'src/database/prepared-query';
import { integerArray, textArray, uuidArray } from 'src/database/pg-array';

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
  /** The key this one is rolled from (unique: a key has one successor at most). */
  predecessorId?: string | null;
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
  /** The roll (null unless the key was rolled; see src/api-keys/grace.ts). */
  successorId: string | null;
  rolledAt: Date | null;
  graceEndsAt: Date | null;
  graceUnusedSeconds: number | null;
  /** Null unless `graceUnusedSeconds` is set: the only rule that reads it (see findResolvable). */
  lastUsedAt: Date | null;
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

/** A provisioned key provisioning may replace: live and not rolled yet. */
export interface ReplaceableKeyRow extends RevokedKeyRow {
  createdAt: Date;
}

/** A key someone reported as disclosed (a secret scanner, the public revoke endpoint), by lookup id and hash. */
export interface ReportedKey {
  keyId: string;
  /** SHA-256 of the whole key as reported (hashApiKey). */
  hash: string;
}

/** A keysmith-minted key that matched a report, whatever its state, and whether this report revoked it. */
export interface ReportedKeyMatch extends RevokedKeyRow {
  hash: string;
  /** False when it was revoked already (by anyone, a concurrent report included). */
  revokedNow: boolean;
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
                             allowed_origins, expires_at, admin_org_id, origin, scopes, predecessor_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9, $10, $11, $12::text[], $13)
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
        row.predecessorId ?? null,
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
    // Without includeRevoked: the keys that can still be used or switched back on (ACTIVE, DISABLED), a
    // rolled key while its grace lasts.
    if (!filter.includeRevoked)
      qb.andWhere(
        `k.revokedAt IS NULL AND (k.expiresAt IS NULL OR k.expiresAt > now()) AND NOT ${graceEndedSql('k')}`,
      );
    const { entities, raw } = await qb
      .orderBy('k.createdAt', 'DESC')
      .addOrderBy('k.id', 'DESC')
      .limit(limit)
      .getRawAndEntities<{ total: string }>();
    return { keys: entities, total: Number(raw[0]?.total ?? 0) };
  }

  /**
   * Revokes the user's key `id` if it is live (a rolled key in its grace included: its grace ends now);
   * undefined when it is not theirs, already revoked, or rolled away with its grace over (it stays revoked as
   * `rolled`).
   */
  async revokeOwned(userId: string, id: string, m: EntityManager): Promise<RevokedKeyRow | undefined> {
    const [rows] = await m.query<[RevokedKeyRow[], number]>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = 'user'
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND NOT ${graceEndedSql('api_keys')}
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
   * Applies `change` to the user's key `id` unless it is revoked or rolled (`revoked_at IS NULL AND
   * successor_id IS NULL` in the UPDATE itself, so a revocation that commits first is never undone); false when
   * nothing was updated. Disabling keeps the first `disabled_at`; enabling clears it.
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
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND successor_id IS NULL`,
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
   * The user's live keys that provisioning minted under `label` and that were not rolled yet (provisioning
   * replaces them), newest first, locked until the transaction ends. Keys the user minted in the settings UI,
   * or stored from a provider, under that label are theirs and stay; rolled keys keep their grace.
   */
  lockReplaceableProvisioned(userId: string, label: string, m: EntityManager): Promise<ReplaceableKeyRow[]> {
    return m.query<ReplaceableKeyRow[]>(
      `SELECT id, key_id AS "keyId", key_prefix AS "keyPrefix", created_at AS "createdAt"
         FROM api_keys
        WHERE user_id = $1 AND label = $2 AND revoked_at IS NULL AND successor_id IS NULL
          AND origin = 'provisioned'
        ORDER BY created_at DESC, id DESC
        FOR UPDATE`,
      [userId, label],
    );
  }

  /** Revokes keys `ids` (live ones; the caller holds their locks) for `reason`. */
  async revokeIds(ids: readonly string[], reason: ApiKeyRevokedReason, m: EntityManager): Promise<void> {
    if (ids.length === 0) return;
    await m.query(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = $2
        WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL`,
      [ids, reason],
    );
  }

  /**
   * Marks key `id` rolled into `successorId`: it resolves until the earlier of its expiry and now + `graceSeconds`
   * (`LEAST` skips a NULL expiry), or until it goes `unusedSeconds` without a resolve. Returns that grace end,
   * or undefined when the key is revoked or already rolled (the caller holds its lock; this is the backstop).
   */
  async markRolled(
    id: string,
    successorId: string,
    graceSeconds: number,
    unusedSeconds: number | null,
    m: EntityManager,
  ): Promise<Date | undefined> {
    const [rows] = await m.query<[{ graceEndsAt: Date }[], number]>(
      `UPDATE api_keys SET successor_id = $2, rolled_at = now(),
              grace_ends_at = LEAST(expires_at, now() + make_interval(secs => $3)), grace_unused_seconds = $4
        WHERE id = $1 AND revoked_at IS NULL AND successor_id IS NULL
        RETURNING grace_ends_at AS "graceEndsAt"`,
      [id, successorId, graceSeconds, unusedSeconds],
    );
    return rows[0]?.graceEndsAt;
  }

  /** Whether key `id` already has a successor (read in the caller's transaction). */
  async hasSuccessor(id: string, m: EntityManager): Promise<boolean> {
    const rows = await m.query<unknown[]>('SELECT 1 FROM api_keys WHERE predecessor_id = $1', [id]);
    return rows.length > 0;
  }

  /**
   * Revokes, with `reason`, every reported key that is a keysmith-minted key whose lookup id and hash both
   * match and that is not revoked yet (ACTIVE, DISABLED and EXPIRED alike: a disclosed key must never come
   * back); returns every match, revoked before or now. One statement for the whole batch (the unique index on
   * key_id). Concurrent reports of one key revoke it once: the later UPDATE re-reads `revoked_at` after the
   * first commits, and reports `revokedNow: false`.
   */
  async revokeReported(
    reported: readonly ReportedKey[],
    reason: ApiKeyRevokedReason,
    m: EntityManager,
  ): Promise<ReportedKeyMatch[]> {
    if (reported.length === 0) return [];
    return m.query<ReportedKeyMatch[]>(
      `WITH found AS (
         SELECT k.id, k.key_id, k.key_prefix, k.key_hash
           FROM api_keys k
           JOIN unnest($1::text[], $2::text[]) AS r(key_id, key_hash)
             ON k.key_id = r.key_id AND k.key_hash = r.key_hash
          WHERE k.billing_provider_id IS NULL
       ), revoked AS (
         UPDATE api_keys k SET revoked_at = now(), revoked_reason = $3
           FROM found f
          WHERE k.id = f.id AND k.revoked_at IS NULL
         RETURNING k.id
       )
       SELECT f.id, f.key_id AS "keyId", f.key_prefix AS "keyPrefix", f.key_hash AS "hash",
              (r.id IS NOT NULL) AS "revokedNow"
         FROM found f LEFT JOIN revoked r ON r.id = f.id`,
      [reported.map((r) => r.keyId), reported.map((r) => r.hash), reason],
    );
  }

  /**
   * The resolution lookup of keys `keyIds` (the lookups that arrived together, see ApiKeyLookup): one
   * indexed read (the unique index on key_id), prepared once per connection, that also brings the users and
   * the projects; at most one row per key id. Only keysmith-minted keys resolve: a provider-issued key is the
   * provider's credential, not one of ours, even when it happens to be shaped like `ksk_<id>_<secret>`.
   * `lastUsedAt` only matters to a grace that ends when unused (graceEndMs): for any other key it is left null,
   * so a cache miss parses no Date it will not read.
   */
  findResolvable(keyIds: string[]): Promise<ResolvableKeyRow[]> {
    return preparedQuery<ResolvableKeyRow>(
      this.dataSource,
      'keysmith_api_keys_resolve',
      `SELECT k.id, k.key_id AS "keyId", k.key_hash AS "keyHash", k.key_prefix AS "keyPrefix",
              k.allowed_origins AS "allowedOrigins", k.scopes, k.revoked_at AS "revokedAt",
              k.disabled_at AS "keyDisabledAt", k.expires_at AS "expiresAt",
              k.successor_id AS "successorId", k.rolled_at AS "rolledAt", k.grace_ends_at AS "graceEndsAt",
              k.grace_unused_seconds AS "graceUnusedSeconds",
              CASE WHEN k.grace_unused_seconds IS NOT NULL THEN k.last_used_at END AS "lastUsedAt",
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

  /**
   * Records the last use of each key of `uses` (at most one entry per key): `last_used_at` and, for a resolve,
   * `last_used_by` (the M2M client; a use without one, the deprecated admin tier's, keeps the client of the
   * last resolve). Never moves a key's last use back in time (a slower instance's older use loses), and skips
   * a key whose last use by the same client is less than `precisionSeconds` older (written by any instance),
   * so a hot key is written about once a minute, not once per instance and flush. Skips rolled keys whose
   * grace has ended: a late write must not bring back a grace that ended for want of use (decision 0060).
   */
  async markUsed(
    uses: readonly { id: string; atMs: number; clientId: string | null }[],
    precisionSeconds: number,
  ): Promise<void> {
    if (uses.length === 0) return;
    // Times travel as epoch milliseconds (integers serialise far cheaper than Dates).
    await this.dataSource.query(
      `UPDATE api_keys k
          SET last_used_at = u.at, last_used_by = COALESCE(u.client_id, k.last_used_by)
         FROM (SELECT id, 'epoch'::timestamptz + at_ms * interval '1 millisecond' AS at, client_id
                 FROM unnest($1::uuid[], $2::bigint[], $3::varchar[]) AS x(id, at_ms, client_id)) u
        WHERE k.id = u.id
          AND (k.last_used_at IS NULL
               OR k.last_used_at < u.at - make_interval(secs => $4)
               OR (k.last_used_at < u.at AND u.client_id IS DISTINCT FROM k.last_used_by
                   AND u.client_id IS NOT NULL))
          AND NOT ${graceEndedSql('k')}`,
      [
        uuidArray(uses.map((u) => u.id)),
        integerArray(uses.map((u) => u.atMs)),
        textArray(uses.map((u) => u.clientId)),
        precisionSeconds,
      ],
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

  /**
   * Revokes key `id` of any user for `reason` if it is not revoked yet (a rolled key in its grace included: its
   * grace ends now); undefined when it was, when it was rolled away with its grace over (it stays revoked as
   * `rolled`, decision 0060), or when there is none.
   */
  async revokeById(
    id: string,
    reason: ApiKeyRevokedReason,
    m: EntityManager,
  ): Promise<RevokedKeyRow | undefined> {
    const [rows] = await m.query<[RevokedKeyRow[], number]>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = $2
        WHERE id = $1 AND revoked_at IS NULL AND NOT ${graceEndedSql('api_keys')}
        RETURNING id, key_id AS "keyId", key_prefix AS "keyPrefix"`,
      [id, reason],
    );
    return rows[0];
  }

  /**
   * Every key of the user that is not revoked (active, disabled or expired: an expired key could be given a
   * new expiry; a rolled key in its grace), newest first, whatever its origin: what an offboarding revokes. A
   * key rolled away with its grace over is revoked already (`rolled`, decision 0060) and is not listed.
   */
  unrevokedOfUser(userId: string, m: EntityManager): Promise<OffboardedKeyRow[]> {
    return m.query<OffboardedKeyRow[]>(
      `SELECT id, key_id AS "keyId", key_prefix AS "keyPrefix", label, last_used_at AS "lastUsedAt"
         FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL AND NOT ${graceEndedSql('api_keys')}
        ORDER BY created_at DESC, id DESC`,
      [userId],
    );
  }

  /**
   * The lookup ids of every keysmith-minted key of the user, whatever its state: what a disable or an enable
   * of the user announces, since each of them then resolves otherwise (403 while the user is disabled).
   */
  async lookupIdsOfUser(userId: string, m: EntityManager): Promise<string[]> {
    const rows = await m.query<{ keyId: string }[]>(
      'SELECT key_id AS "keyId" FROM api_keys WHERE user_id = $1 AND billing_provider_id IS NULL',
      [userId],
    );
    return rows.map((r) => r.keyId);
  }

  /**
   * Revokes every key of the user that is not revoked yet, for `reason` (the keys `unrevokedOfUser` lists: a
   * key rolled away with its grace over stays `rolled`); the keys, newest first.
   */
  async revokeAllOfUser(
    userId: string,
    reason: ApiKeyRevokedReason,
    m: EntityManager,
  ): Promise<OffboardedKeyRow[]> {
    const [rows] = await m.query<[(OffboardedKeyRow & { createdAt: Date })[], number]>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = $2
        WHERE user_id = $1 AND revoked_at IS NULL AND NOT ${graceEndedSql('api_keys')}
        RETURNING id, key_id AS "keyId", key_prefix AS "keyPrefix", label, last_used_at AS "lastUsedAt",
                  created_at AS "createdAt"`,
      [userId, reason],
    );
    return rows
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map(({ createdAt: _createdAt, ...row }) => row);
  }
}
