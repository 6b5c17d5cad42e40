import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { integerArray, textArray, uuidArray } from 'src/database/pg-array';

/**
 * At most this many consumers are kept per key: the most recently seen ones (GET shows 20). A key presented by
 * more clients than that keeps the latest; the rest are deleted when a new one arrives (decision 0065).
 */
export const MAX_CONSUMERS_PER_KEY = 100;

/** What one instance saw of one client resolving one key, between two flushes. */
export interface ConsumerUse {
  /** `api_keys.id`. */
  keyId: string;
  clientId: string;
  /** Epoch milliseconds: sent as integers, not Dates (a flush can carry 10,000 of each). */
  firstResolvedAtMs: number;
  lastResolvedAtMs: number;
}

/** A row of `api_key_consumers`, in the entity's field names. */
export interface ApiKeyConsumerRow {
  clientId: string;
  firstResolvedAt: Date;
  lastResolvedAt: Date;
}

/**
 * Every query on `api_key_consumers` (decision 0007): the batched upsert the usage recorder flushes, the cap
 * per key, and the list the developer surface shows.
 */
@Injectable()
export class ApiKeyConsumersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Records `uses` (one per key and client) in one statement and returns the ids of the keys that gained a
   * consumer. Times only ever widen: the first time is the earliest any instance saw, the last the latest
   * (LEAST/GREATEST), so two instances flushing at once, in either order, lose and regress nothing. A row
   * whose times would not change is not rewritten. Rows are written in key and client order, so concurrent
   * flushes take their row locks in one order. A key deleted meanwhile is skipped.
   */
  async record(uses: readonly ConsumerUse[]): Promise<string[]> {
    if (uses.length === 0) return [];
    const rows = await this.dataSource.query<{ keyId: string; inserted: boolean }[]>(
      `INSERT INTO api_key_consumers AS c (key_id, client_id, first_resolved_at, last_resolved_at)
       SELECT u.key_id, u.client_id,
              'epoch'::timestamptz + u.first_ms * interval '1 millisecond',
              'epoch'::timestamptz + u.last_ms * interval '1 millisecond'
         FROM unnest($1::uuid[], $2::varchar[], $3::bigint[], $4::bigint[])
                AS u(key_id, client_id, first_ms, last_ms)
         JOIN api_keys k ON k.id = u.key_id
        ORDER BY u.key_id, u.client_id
       ON CONFLICT (key_id, client_id) DO UPDATE
          SET first_resolved_at = LEAST(c.first_resolved_at, EXCLUDED.first_resolved_at),
              last_resolved_at = GREATEST(c.last_resolved_at, EXCLUDED.last_resolved_at)
        WHERE EXCLUDED.first_resolved_at < c.first_resolved_at
           OR EXCLUDED.last_resolved_at > c.last_resolved_at
       RETURNING c.key_id AS "keyId", (c.xmax = 0) AS inserted`,
      [
        uuidArray(uses.map((u) => u.keyId)),
        textArray(uses.map((u) => u.clientId)),
        integerArray(uses.map((u) => u.firstResolvedAtMs)),
        integerArray(uses.map((u) => u.lastResolvedAtMs)),
      ],
    );
    return [...new Set(rows.filter((r) => r.inserted).map((r) => r.keyId))];
  }

  /** Deletes all but the `keep` most recently seen consumers of each key of `keyIds`. */
  async trim(keyIds: readonly string[], keep = MAX_CONSUMERS_PER_KEY): Promise<void> {
    if (keyIds.length === 0) return;
    await this.dataSource.query(
      `DELETE FROM api_key_consumers c
        USING (SELECT key_id, client_id,
                      row_number() OVER (PARTITION BY key_id ORDER BY last_resolved_at DESC, client_id) AS rank
                 FROM api_key_consumers
                WHERE key_id = ANY($1::uuid[])) r
        WHERE c.key_id = r.key_id AND c.client_id = r.client_id AND r.rank > $2`,
      [keyIds, keep],
    );
  }

  /** The `limit` most recently seen consumers of key `keyId` (`api_keys.id`), most recent first. */
  recentOf(keyId: string, limit: number): Promise<ApiKeyConsumerRow[]> {
    return this.dataSource.query<ApiKeyConsumerRow[]>(
      `SELECT client_id AS "clientId", first_resolved_at AS "firstResolvedAt",
              last_resolved_at AS "lastResolvedAt"
         FROM api_key_consumers
        WHERE key_id = $1
        ORDER BY last_resolved_at DESC, client_id
        LIMIT $2`,
      [keyId, limit],
    );
  }

  /**
   * The `limit` most recently seen consumers of each key of `keyIds` (`api_keys.id`), in one statement (an
   * offboarding reports up to thousands of keys): ranked per key by a window over the primary key's rows,
   * most recent first (ties by client id), by key.
   */
  recentOfMany(keyIds: readonly string[], limit: number): Promise<(ApiKeyConsumerRow & { keyId: string })[]> {
    if (keyIds.length === 0) return Promise.resolve([]);
    return this.dataSource.query<(ApiKeyConsumerRow & { keyId: string })[]>(
      `SELECT key_id AS "keyId", client_id AS "clientId", first_resolved_at AS "firstResolvedAt",
              last_resolved_at AS "lastResolvedAt"
         FROM (SELECT c.key_id, c.client_id, c.first_resolved_at, c.last_resolved_at,
                      row_number() OVER (PARTITION BY c.key_id
                                         ORDER BY c.last_resolved_at DESC, c.client_id) AS rank
                 FROM api_key_consumers c
                WHERE c.key_id = ANY($1::uuid[])) r
        WHERE rank <= $2
        ORDER BY key_id, last_resolved_at DESC, client_id`,
      [keyIds, limit],
    );
  }
}
