import type { KeyUsageCounts } from 'src/key-usage/key-usage.repository';

/** What Fastify would have sent the body as, had it serialised the object itself. */
export const USAGE_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * The body of a usage read, `{"usage":[{keyId, valid, refused, buckets:[{start, valid, refused}]}]}`, written
 * as JSON text straight from the rows (decision 0111): byte for byte what `JSON.stringify` writes for the
 * `KeyUsageResponseDto` (same key order, numbers as JavaScript prints them, starts as `toISOString`), without
 * building an object per bucket first. `keyIdOf` gives the id to answer for a stored one (the caller's spelling).
 * Each key's buckets come oldest first and its totals are their sums, added in that order.
 */
export function usageJson(
  rows: readonly KeyUsageCounts[],
  keyIdOf: (storedId: string) => string = (id) => id,
): string {
  const isoOf = new Map<number, string>();
  const keys: string[] = new Array<string>(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k]!;
    const fields = row.counts === null ? [] : row.counts.split(',');
    const n = fields.length / 3;
    const starts = new Float64Array(n);
    let ordered = true;
    for (let i = 0; i < n; i++) {
      starts[i] = Number(fields[3 * i]);
      if (i > 0 && starts[i]! < starts[i - 1]!) ordered = false;
    }
    const order = ordered
      ? null
      : Array.from({ length: n }, (_, i) => i).sort((a, b) => starts[a]! - starts[b]!);
    const buckets: string[] = new Array<string>(n);
    let valid = 0;
    let refused = 0;
    for (let j = 0; j < n; j++) {
      const i = order === null ? j : order[j]!;
      const seconds = starts[i]!;
      let start = isoOf.get(seconds);
      if (start === undefined) isoOf.set(seconds, (start = new Date(seconds * 1000).toISOString()));
      const v = Number(fields[3 * i + 1]);
      const r = Number(fields[3 * i + 2]);
      valid += v;
      refused += r;
      buckets[j] = `{"start":"${start}","valid":${v},"refused":${r}}`;
    }
    keys[k] =
      `{"keyId":${JSON.stringify(keyIdOf(row.keyId))},"valid":${valid},"refused":${refused},` +
      `"buckets":[${buckets.join(',')}]}`;
  }
  return `{"usage":[${keys.join(',')}]}`;
}
