import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { integerArray, uuidArray } from 'src/database/pg-array';

/** One instance's counts of one key in one hour, between two flushes. */
export interface UsageCount {
  /** `api_keys.id`. */
  apiKeyId: string;
  /** Epoch ms of the hour's start (UTC). */
  hourMs: number;
  valid: number;
  refused: number;
}

export type UsageGranularity = 'hour' | 'day';

/**
 * One key of a usage read as PostgreSQL wrote it: `counts` holds its non-empty buckets in the window as
 * comma-separated triples `start,valid,refused` (start in epoch seconds), in no particular order; null when the
 * key has none. `usageJson` turns the rows into the answer.
 */
export interface KeyUsageCounts {
  keyId: string;
  counts: string | null;
}

/** Which keys a usage read covers: ids of one session user (others left out), or every key of one user. */
export type UsageOwner = { keyIds: readonly string[]; externalId: string } | { userId: string };

/**
 * Every query on `api_key_usage` (decision 0007): the flush's batched upsert, the read of a window, and the
 * retention sweep.
 */
@Injectable()
export class KeyUsageRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Adds `counts` in one statement. Counts add up (`valid = u.valid + EXCLUDED.valid`), so several instances
   * flushing the same key and hour, in either order, lose nothing. Rows are written in key and hour order, so
   * concurrent flushes take their row locks in one order; a key deleted meanwhile is skipped.
   */
  async add(counts: readonly UsageCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO api_key_usage AS u (api_key_id, hour, valid, refused)
       SELECT t.api_key_id, 'epoch'::timestamptz + t.hour_ms * interval '1 millisecond', t.valid, t.refused
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[]) AS t(api_key_id, hour_ms, valid, refused)
         JOIN api_keys k ON k.id = t.api_key_id
        ORDER BY t.api_key_id, t.hour_ms
       ON CONFLICT (api_key_id, hour) DO UPDATE
          SET valid = u.valid + EXCLUDED.valid, refused = u.refused + EXCLUDED.refused`,
      [
        uuidArray(counts.map((c) => c.apiKeyId)),
        integerArray(counts.map((c) => c.hourMs)),
        integerArray(counts.map((c) => c.valid)),
        integerArray(counts.map((c) => c.refused)),
      ],
    );
  }

  /**
   * The keys of `owner` with their counts in the hour buckets that start in [from, to), summed per UTC day for
   * `day`, in one query: every key of the owner is answered, one without counts with a null `counts`. Keys come
   * in the order `keyIds` gave them, or newest first for a whole user.
   */
  async read(
    owner: UsageOwner,
    from: Date,
    to: Date,
    granularity: UsageGranularity,
  ): Promise<KeyUsageCounts[]> {
    const ids = 'keyIds' in owner;
    const keys = ids
      ? `SELECT k.id, w.ord FROM unnest($3::uuid[]) WITH ORDINALITY AS w(id, ord)
           JOIN api_keys k ON k.id = w.id JOIN users s ON s.id = k.user_id AND s.external_id = $4`
      : `SELECT k.id, row_number() OVER (ORDER BY k.created_at DESC, k.id) AS ord
           FROM api_keys k WHERE k.user_id = $3`;
    // One bitmap scan of the primary key for all the keys at once (each heap page visited once, where a scan
    // per key revisits the pages a flush fills hour by hour), aggregated per key into one text: no ORDER BY in
    // the aggregate (a sort per key would cost more than the scan), so usageJson puts the buckets in order.
    const buckets =
      granularity === 'day'
        ? `SELECT u.api_key_id, date_trunc('day', u.hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start,
                  sum(u.valid) AS valid, sum(u.refused) AS refused
             FROM api_key_usage u
            WHERE u.api_key_id = ANY(ARRAY(SELECT id FROM keys)) AND u.hour >= $1 AND u.hour < $2
            GROUP BY 1, 2`
        : `SELECT u.api_key_id, u.hour AS start, u.valid, u.refused
             FROM api_key_usage u
            WHERE u.api_key_id = ANY(ARRAY(SELECT id FROM keys)) AND u.hour >= $1 AND u.hour < $2`;
    return this.dataSource.query<KeyUsageCounts[]>(
      `WITH keys AS (${keys}),
       counts AS (
         SELECT b.api_key_id, string_agg(concat_ws(',', date_part('epoch', b.start), b.valid, b.refused), ',')
                  AS counts
           FROM (${buckets}) b
          GROUP BY b.api_key_id)
       SELECT k.id AS "keyId", c.counts
         FROM keys k LEFT JOIN counts c ON c.api_key_id = k.id
        ORDER BY k.ord`,
      [from, to, ...(ids ? [owner.keyIds, owner.externalId] : [owner.userId])],
    );
  }

  /** Deletes at most `limit` buckets that started before `before`; how many. */
  async deleteBefore(before: Date, limit: number, m: EntityManager): Promise<number> {
    const [, count] = await m.query<[unknown[], number]>(
      `DELETE FROM api_key_usage WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM api_key_usage WHERE hour < $1 LIMIT $2))`,
      [before, limit],
    );
    return count;
  }
}
