import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';

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

/** One key's counts in a window: its totals and its non-zero buckets, oldest first. */
export interface KeyUsageRow {
  keyId: string;
  valid: number;
  refused: number;
  buckets: { start: string; valid: number; refused: number }[];
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
        counts.map((c) => c.apiKeyId),
        counts.map((c) => c.hourMs),
        counts.map((c) => c.valid),
        counts.map((c) => c.refused),
      ],
    );
  }

  /**
   * The keys of `owner` with their counts in the hour buckets that start in [from, to), summed per UTC day for
   * `day`, in one query: every key of the owner is answered, one without counts with zeros and no buckets.
   * Keys come in the order `keyIds` gave them, or newest first for a whole user.
   */
  async read(owner: UsageOwner, from: Date, to: Date, granularity: UsageGranularity): Promise<KeyUsageRow[]> {
    const ids = 'keyIds' in owner;
    const keys = ids
      ? `SELECT k.id, w.ord FROM unnest($4::uuid[]) WITH ORDINALITY AS w(id, ord)
           JOIN api_keys k ON k.id = w.id JOIN users s ON s.id = k.user_id AND s.external_id = $5`
      : `SELECT k.id, row_number() OVER (ORDER BY k.created_at DESC, k.id) AS ord
           FROM api_keys k WHERE k.user_id = $4`;
    // Per key, one range scan of the primary key (key, hour) and small in-memory aggregates: no sort of the
    // whole window. Starts come back as epoch seconds and are written as ISO strings once per distinct start.
    const rows = await this.dataSource.query<
      { keyId: string; starts: number[] | null; valid: number[] | null; refused: number[] | null }[]
    >(
      `WITH keys AS (${keys})
       SELECT k.id AS "keyId", b.starts, b.valid, b.refused
         FROM keys k
         LEFT JOIN LATERAL (
           SELECT array_agg(extract(epoch FROM d.start)::float8 ORDER BY d.start) AS starts,
                  array_agg(d.valid ORDER BY d.start) AS valid,
                  array_agg(d.refused ORDER BY d.start) AS refused
             FROM (SELECT CASE WHEN $3 = 'day' THEN date_trunc('day', u.hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                               ELSE u.hour END AS start,
                          sum(u.valid)::float8 AS valid, sum(u.refused)::float8 AS refused
                     FROM api_key_usage u
                    WHERE u.api_key_id = k.id AND u.hour >= $1 AND u.hour < $2
                    GROUP BY 1) d) b ON true
        ORDER BY k.ord`,
      [from, to, granularity, ...(ids ? [owner.keyIds, owner.externalId] : [owner.userId])],
    );
    const isoOf = new Map<number, string>();
    return rows.map((row) => {
      const starts = row.starts ?? [];
      const valid = row.valid ?? [];
      const refused = row.refused ?? [];
      const buckets = new Array<KeyUsageRow['buckets'][number]>(starts.length);
      let totalValid = 0;
      let totalRefused = 0;
      for (let i = 0; i < starts.length; i++) {
        const seconds = starts[i]!;
        let start = isoOf.get(seconds);
        if (start === undefined) isoOf.set(seconds, (start = new Date(seconds * 1000).toISOString()));
        const v = valid[i]!;
        const r = refused[i]!;
        totalValid += v;
        totalRefused += r;
        buckets[i] = { start, valid: v, refused: r };
      }
      return { keyId: row.keyId, valid: totalValid, refused: totalRefused, buckets };
    });
  }

  /** Takes the retention sweep's lock for `m`'s transaction, without waiting; whether it was free. */
  async trySweepLock(lockKey: number, m: EntityManager): Promise<boolean> {
    const [row] = await m.query<{ locked: boolean }[]>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
      lockKey,
    ]);
    return row?.locked === true;
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
