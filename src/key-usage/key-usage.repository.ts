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
 * One key of a usage read as PostgreSQL wrote it: `counts` holds its non-empty buckets as comma-separated
 * triples `start,valid,refused` (start in epoch seconds), in no particular order, possibly with hours outside
 * the window or an hour twice (see `KeyUsageRepository.read`); null when the key has none. `usageJson` turns
 * the rows into the answer.
 */
export interface KeyUsageCounts {
  keyId: string;
  counts: string | null;
}

/** Which keys a usage read covers: ids of one session user (others left out), or every key of one user. */
export type UsageOwner = { keyIds: readonly string[]; externalId: string } | { userId: string };

/**
 * Every query on `api_key_usage` and `api_key_usage_days` (decision 0007): the flush's batched upsert, the read
 * of a window, and the sweep's compaction of closed days and retention.
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
   *
   * Buckets live in two places (decision 0117): hour rows not compacted yet, and one row per closed day whose
   * `counts` already is this read's text. An hour read passes the days that overlap the window whole, so a key's
   * text may hold hours outside [from, to) (the caller's `usageJson` drops them) or an hour twice (a late flush
   * compacted after its day: `usageJson` adds them up). A day read folds everything in SQL, each bucket once:
   * hour rows per UTC day, whole days from their sums, and the hours of the days the window cuts, from their text.
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
    // Each source is one bitmap scan of its primary key for all the keys at once (each heap page visited once,
    // where a scan per key revisits the pages a flush fills hour by hour), aggregated per key into one text with
    // no ORDER BY in the aggregate (sorting every hour would cost more than the scan): the days, a few thousand
    // rows, are sorted and come first, the hour rows after them mostly in time order (as flushes wrote them),
    // so a key's text is nearly always in order already; usageJson puts the rest in order.
    // A UTC day is '24 hours': '1 day' added to a timestamptz is a calendar day of the session's time zone, 23
    // or 25 hours across a daylight saving change there.
    const ofKeys = 'ANY(ARRAY(SELECT id FROM keys))';
    const overlapping = `d.api_key_id = ${ofKeys}
                         AND d.day > $1::timestamptz - interval '24 hours' AND d.day < $2::timestamptz`;
    const whole = `d.day >= $1::timestamptz AND d.day + interval '24 hours' <= $2::timestamptz`;
    const hours = `FROM api_key_usage u WHERE u.api_key_id = ${ofKeys} AND u.hour >= $1 AND u.hour < $2`;
    const texts =
      granularity === 'day'
        ? `SELECT b.api_key_id, concat_ws(',', date_part('epoch', b.start), sum(b.valid), sum(b.refused)) AS counts
             FROM (SELECT d.api_key_id, d.day AS start, d.valid, d.refused
                     FROM api_key_usage_days d WHERE ${overlapping} AND ${whole}
                   UNION ALL
                   SELECT d.api_key_id, d.day, f[i + 1]::bigint, f[i + 2]::bigint
                     FROM api_key_usage_days d
                     CROSS JOIN LATERAL string_to_array(d.counts, ',') AS f
                     CROSS JOIN LATERAL generate_series(1, cardinality(f), 3) AS i
                    WHERE ${overlapping} AND NOT (${whole})
                      AND to_timestamp(f[i]::float8) >= $1 AND to_timestamp(f[i]::float8) < $2
                   UNION ALL
                   SELECT u.api_key_id, date_trunc('day', u.hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                          u.valid, u.refused ${hours}) b
            GROUP BY b.api_key_id, b.start`
        : `(SELECT d.api_key_id, d.counts FROM api_key_usage_days d WHERE ${overlapping} ORDER BY d.day)
           UNION ALL
           SELECT u.api_key_id, concat_ws(',', date_part('epoch', u.hour), u.valid, u.refused) ${hours}`;
    return this.dataSource.query<KeyUsageCounts[]>(
      `WITH keys AS (${keys}),
       counts AS (SELECT t.api_key_id, string_agg(t.counts, ',') AS counts FROM (${texts}) t GROUP BY t.api_key_id)
       SELECT k.id AS "keyId", c.counts
         FROM keys k LEFT JOIN counts c ON c.api_key_id = k.id
        ORDER BY k.ord`,
      [from, to, ...(ids ? [owner.keyIds, owner.externalId] : [owner.userId])],
    );
  }

  /**
   * Moves at most `limit` hour buckets that started before `before` into their keys' day rows, in one
   * statement (so no count is ever in both places or in neither), key by key in primary-key order (a batch
   * splits at most one key's day, and each day row is written once, in order); how many it moved. The keys are
   * share-locked before their buckets, in the order a key's deletion takes them, so a deletion meanwhile waits
   * or is waited for instead of deadlocking; a day already compacted (a late flush) gets the hours appended.
   * The buckets are locked in key and hour order, a flush's order, before the DELETE takes them in the order
   * they lie on the pages: a late flush of several of them waits or is waited for, instead of deadlocking.
   */
  async compactBefore(before: Date, limit: number, m: EntityManager): Promise<number> {
    const [row] = await m.query<{ moved: number }[]>(
      `WITH moved AS (
         DELETE FROM api_key_usage WHERE ctid = ANY(ARRAY(
           SELECT u.ctid FROM api_key_usage u JOIN api_keys k ON k.id = u.api_key_id
            WHERE u.hour < $1 ORDER BY u.api_key_id, u.hour LIMIT $2
            FOR KEY SHARE OF k FOR UPDATE OF u))
         RETURNING api_key_id, hour, valid, refused),
       days AS (
         SELECT api_key_id, date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day,
                string_agg(concat_ws(',', date_part('epoch', hour), valid, refused), ',' ORDER BY hour) AS counts,
                sum(valid) AS valid, sum(refused) AS refused
           FROM moved GROUP BY 1, 2),
       written AS (
         INSERT INTO api_key_usage_days AS d (api_key_id, day, counts, valid, refused)
         SELECT api_key_id, day, counts, valid, refused FROM days ORDER BY api_key_id, day
         ON CONFLICT (api_key_id, day) DO UPDATE
            SET counts = d.counts || ',' || EXCLUDED.counts,
                valid = d.valid + EXCLUDED.valid, refused = d.refused + EXCLUDED.refused)
       SELECT count(*)::int AS moved FROM moved`,
      [before, limit],
    );
    return row?.moved ?? 0;
  }

  /** Deletes at most `limit` hour buckets that started before `before`; how many. */
  async deleteBefore(before: Date, limit: number, m: EntityManager): Promise<number> {
    const [, count] = await m.query<[unknown[], number]>(
      `DELETE FROM api_key_usage WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM api_key_usage WHERE hour < $1 LIMIT $2))`,
      [before, limit],
    );
    return count;
  }

  /**
   * Deletes at most `limit` compacted days that ended by `before` (whole days only; a UTC day is '24 hours',
   * whatever the session's time zone); how many.
   */
  async deleteDaysBefore(before: Date, limit: number, m: EntityManager): Promise<number> {
    const [, count] = await m.query<[unknown[], number]>(
      `DELETE FROM api_key_usage_days WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM api_key_usage_days WHERE day <= $1::timestamptz - interval '24 hours' LIMIT $2))`,
      [before, limit],
    );
    return count;
  }
}
