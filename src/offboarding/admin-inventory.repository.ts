import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ApiKeyOrigin, ApiKeyRevokedReason, ApiKeyStatus } from 'src/api-keys/api-key.entity';
import { graceEndedSql } from 'src/api-keys/grace';
import type { InventoryPosition } from 'src/offboarding/inventory-cursor';
import type { UserStatus } from 'src/offboarding/dto/admin-inventory.dto';

export interface KeyFilter {
  userId?: string;
  externalId?: string;
  projectId?: string;
  status?: ApiKeyStatus;
  q?: string;
}

export interface UserFilter {
  q?: string;
  status?: UserStatus;
}

/** One row of the admin key list: the key, its project, provider and user, and its page position. */
export interface InventoryKeyRow {
  id: string;
  label: string | null;
  keyPrefix: string;
  origin: ApiKeyOrigin;
  allowedOrigins: string[];
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedReason: ApiKeyRevokedReason | null;
  disabledAt: Date | null;
  expiresAt: Date | null;
  lastUsedBy: string | null;
  predecessorId: string | null;
  successorId: string | null;
  graceEndsAt: Date | null;
  graceUnusedSeconds: number | null;
  rolledAt: Date | null;
  projectId: string;
  projectName: string;
  billingProviderId: string | null;
  billingProviderSlug: string | null;
  billingProviderName: string | null;
  userId: string;
  externalId: string;
  email: string | null;
  createdAtUs: string;
}

export interface InventoryUserRow {
  id: string;
  externalId: string;
  email: string | null;
  name: string | null;
  createdAt: Date;
  disabledAt: Date | null;
  liveKeyCount: number;
  createdAtUs: string;
}

/** The status filters as SQL on `api_keys k` (the same order as statusOf: revoked, expired, disabled). */
const KEY_STATUS_SQL: Record<ApiKeyStatus, string> = {
  REVOKED: `(k.revoked_at IS NOT NULL OR ${graceEndedSql('k')})`,
  EXPIRED: `k.revoked_at IS NULL AND NOT ${graceEndedSql('k')} AND k.expires_at <= now()`,
  DISABLED: `k.revoked_at IS NULL AND NOT ${graceEndedSql('k')} AND (k.expires_at IS NULL OR k.expires_at > now()) AND k.disabled_at IS NOT NULL`,
  ACTIVE: `k.revoked_at IS NULL AND NOT ${graceEndedSql('k')} AND (k.expires_at IS NULL OR k.expires_at > now()) AND k.disabled_at IS NULL`,
};

/**
 * How many keys of user `u` are live: not revoked, not expired, not rolled away past their grace (decision
 * 0060; a key in its grace is live). Disabled keys count: they can be switched back on.
 */
const LIVE_KEY_COUNT = `(SELECT count(*) FROM api_keys k
                WHERE k.user_id = u.id AND k.revoked_at IS NULL AND NOT ${graceEndedSql('k')}
                  AND (k.expires_at IS NULL OR k.expires_at > now()))::int`;

/** `created_at` in microseconds since the epoch, exactly (EXTRACT answers numeric). */
const MICROS = (column: string): string => `(EXTRACT(EPOCH FROM ${column}) * 1000000)::bigint::text`;
/** The instant of a cursor's microseconds, exactly. */
const INSTANT = (param: string): string =>
  `(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')`;

/** A key with its project, provider and user, and its page position. */
const KEY_SELECT = `SELECT k.id, k.label, k.key_prefix AS "keyPrefix", k.origin, k.allowed_origins AS "allowedOrigins",
              k.scopes, k.created_at AS "createdAt", k.last_used_at AS "lastUsedAt", k.revoked_at AS "revokedAt",
              k.revoked_reason AS "revokedReason", k.disabled_at AS "disabledAt", k.expires_at AS "expiresAt",
              k.last_used_by AS "lastUsedBy", k.predecessor_id AS "predecessorId", k.successor_id AS "successorId",
              k.grace_ends_at AS "graceEndsAt", k.grace_unused_seconds AS "graceUnusedSeconds", k.rolled_at AS "rolledAt",
              p.id AS "projectId", p.name AS "projectName", bp.id AS "billingProviderId",
              bp.slug AS "billingProviderSlug", bp.name AS "billingProviderName",
              u.id AS "userId", u.external_id AS "externalId", u.email,
              ${MICROS('k.created_at')} AS "createdAtUs"
         FROM api_keys k
         JOIN users u ON u.id = k.user_id
         JOIN projects p ON p.id = k.project_id
         LEFT JOIN billing_providers bp ON bp.id = k.billing_provider_id`;

/** A `LIKE` prefix pattern of `text`, lowercased, with its wildcards escaped. */
function prefixPattern(text: string): string {
  return `${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The admin inventory's reads: every key and every user, filtered, newest first, in keyset pages on
 * (created_at, id). Each filter has an index that serves the order (migration AddAdminInventory; the query
 * plans are in docs/surfaces/admin.md).
 */
@Injectable()
export class AdminInventoryRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  listKeys(
    filter: KeyFilter,
    after: InventoryPosition | undefined,
    limit: number,
  ): Promise<InventoryKeyRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.userId !== undefined) where.push(`k.user_id = ${param(filter.userId)}`);
    if (filter.externalId !== undefined)
      where.push(`k.user_id = (SELECT id FROM users WHERE external_id = ${param(filter.externalId)})`);
    if (filter.projectId !== undefined) where.push(`k.project_id = ${param(filter.projectId)}`);
    if (filter.status !== undefined) where.push(KEY_STATUS_SQL[filter.status]);
    if (filter.q !== undefined) {
      const q = param(prefixPattern(filter.q));
      where.push(`(lower(k.label) LIKE ${q} OR lower(k.key_prefix) LIKE ${q})`);
    }
    if (after !== undefined)
      where.push(`(k.created_at, k.id) < (${INSTANT(param(after.createdAtUs))}, ${param(after.id)}::uuid)`);
    return this.dataSource.query<InventoryKeyRow[]>(
      `${KEY_SELECT}
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY k.created_at DESC, k.id DESC
        LIMIT ${param(limit)}`,
      params,
    );
  }

  listUsers(
    filter: UserFilter,
    after: InventoryPosition | undefined,
    limit: number,
  ): Promise<InventoryUserRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.status === 'ACTIVE') where.push('u.disabled_at IS NULL');
    if (filter.status === 'DISABLED') where.push('u.disabled_at IS NOT NULL');
    if (filter.q !== undefined) {
      const q = param(prefixPattern(filter.q));
      where.push(`(lower(u.external_id) LIKE ${q} OR lower(u.email) LIKE ${q} OR lower(u.name) LIKE ${q})`);
    }
    if (after !== undefined)
      where.push(`(u.created_at, u.id) < (${INSTANT(param(after.createdAtUs))}, ${param(after.id)}::uuid)`);
    return this.dataSource.query<InventoryUserRow[]>(
      `SELECT u.id, u.external_id AS "externalId", u.email, u.name, u.created_at AS "createdAt",
              u.disabled_at AS "disabledAt", ${MICROS('u.created_at')} AS "createdAtUs",
              ${LIVE_KEY_COUNT} AS "liveKeyCount"
         FROM users u
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY u.created_at DESC, u.id DESC
        LIMIT ${param(limit)}`,
      params,
    );
  }

  /** One key as the admin list shows it; undefined when there is none. */
  async findKey(id: string): Promise<InventoryKeyRow | undefined> {
    const rows = await this.dataSource.query<InventoryKeyRow[]>(`${KEY_SELECT} WHERE k.id = $1`, [id]);
    return rows[0];
  }

  /** One user as the admin list shows it; undefined when there is none. */
  async findUser(id: string): Promise<InventoryUserRow | undefined> {
    const rows = await this.dataSource.query<InventoryUserRow[]>(
      `SELECT u.id, u.external_id AS "externalId", u.email, u.name, u.created_at AS "createdAt",
              u.disabled_at AS "disabledAt", ${MICROS('u.created_at')} AS "createdAtUs",
              ${LIVE_KEY_COUNT} AS "liveKeyCount"
         FROM users u WHERE u.id = $1`,
      [id],
    );
    return rows[0];
  }
}
