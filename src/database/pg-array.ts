/**
 * PostgreSQL array literals for the batched writes of the flushes (usage counts, key uses, consumers), built in
 * one `join`. node-pg serialises a JavaScript array element by element, quoting and escaping each: for the
 * 4 arrays of a 12,000-key flush that blocked the event loop for 30–40 ms (docs/bench.md, 2026-12-07), long
 * enough to show in the resolve's p99. The literal is still one bound parameter (`$1::uuid[]`), never SQL text.
 */

/** `{a,b}` for ids PostgreSQL minted (uuids), which need no quoting. */
export function uuidArray(ids: readonly string[]): string {
  return `{${ids.join(',')}}`;
}

/** `{1,2}` for integers. */
export function integerArray(values: readonly number[]): string {
  for (const v of values) if (!Number.isSafeInteger(v)) throw new RangeError(`not an integer: ${v}`);
  return `{${values.join(',')}}`;
}

/** `{"a","b",NULL}` for any text: every element quoted, `"` and `\` escaped. */
export function textArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i > 0) out += ',';
    out += v === null ? 'NULL' : `"${v.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${out}}`;
}
