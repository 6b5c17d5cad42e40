import type { KeyUsageCounts } from 'src/key-usage/key-usage.repository';

/** What Fastify would have sent the body as, had it serialised the object itself. */
export const USAGE_CONTENT_TYPE = 'application/json; charset=utf-8';

const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
const REFUSED = Buffer.from(',"refused":');
/** At most this many digits, a decimal integer is exact in a double: it is parsed and printed digit by digit. */
const EXACT_DIGITS = 15;

/** The instants [from, to) of a read, in epoch seconds: buckets that start outside are left out. */
export interface UsageWindowSeconds {
  from: number;
  to: number;
}

const EVERYTHING: UsageWindowSeconds = { from: -Infinity, to: Infinity };

/**
 * The body of a usage read, `{"usage":[{keyId, valid, refused, buckets:[{start, valid, refused}]}]}`, written
 * as UTF-8 JSON straight from the rows (decision 0111): byte for byte what `JSON.stringify` writes for the
 * `KeyUsageResponseDto` (same key order, numbers as JavaScript prints them, starts as `toISOString`), without
 * an object or a string per bucket. `keyIdOf` gives the id to answer for a stored one (the caller's spelling).
 * Each key's buckets come oldest first, one per start (a start given twice is added up), only those that start
 * in `window`; its totals are their sums, added in that order.
 */
export function usageJson(
  rows: readonly KeyUsageCounts[],
  keyIdOf: (storedId: string) => string = (id) => id,
  window: UsageWindowSeconds = EVERYTHING,
): Buffer {
  // A bucket's JSON is about 3.5 times its text from PostgreSQL (`1898553600,23,1,`): one allocation, mostly.
  let estimate = 64;
  for (const row of rows) estimate += 128 + 4 * (row.counts?.length ?? 0);
  const out = new JsonWriter(estimate);
  // Per distinct start, `{"start":"<ISO>","valid":`: the 45 bytes every bucket of that hour or day begins with.
  const prefixOf = new Map<number, Buffer>();
  let key = new KeyCounts(720);
  out.text('{"usage":[');
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k]!;
    key = key.read(row.counts, window);
    key.oldestFirst();
    const { n, starts, valid, refused } = key;
    let totalValid = 0;
    let totalRefused = 0;
    for (let i = 0; i < n; i++) {
      totalValid += valid[i]!;
      totalRefused += refused[i]!;
    }
    out.text(
      `${k === 0 ? '' : ','}{"keyId":${JSON.stringify(keyIdOf(row.keyId))},"valid":${totalValid},` +
        `"refused":${totalRefused},"buckets":[`,
    );
    for (let i = 0; i < n; i++) {
      const seconds = starts[i]!;
      let prefix = prefixOf.get(seconds);
      if (prefix === undefined) {
        prefix = Buffer.from(`{"start":"${new Date(seconds * 1000).toISOString()}","valid":`);
        prefixOf.set(seconds, prefix);
      }
      if (i > 0) out.byte(COMMA);
      out.bytes(prefix);
      out.number(valid[i]!);
      out.bytes(REFUSED);
      out.number(refused[i]!);
      out.byte(CLOSE_BRACE);
    }
    out.text(']}');
  }
  out.text(']}');
  return out.done();
}

/** 2^21: a bucket's index packed below its start, so one native sort of doubles orders both (see oldestFirst). */
const INDEX_SPAN = 2_097_152;
/** Starts below 2^32 seconds (2106) times INDEX_SPAN stay below 2^53: exact in a double. */
const PACKABLE_START = 4_294_967_296;

/**
 * One key's buckets parsed from PostgreSQL's `start,valid,refused,…` text, into arrays reused from key to key
 * (a second set is the scratch space of oldestFirst).
 */
class KeyCounts {
  n = 0;
  starts: Float64Array;
  valid: Float64Array;
  refused: Float64Array;
  private spare: { starts: Float64Array; valid: Float64Array; refused: Float64Array; packed: Float64Array };

  constructor(readonly capacity: number) {
    this.starts = new Float64Array(capacity);
    this.valid = new Float64Array(capacity);
    this.refused = new Float64Array(capacity);
    this.spare = {
      starts: new Float64Array(capacity),
      valid: new Float64Array(capacity),
      refused: new Float64Array(capacity),
      packed: new Float64Array(capacity),
    };
  }

  /** Parses the buckets of `text` that start in `window` here, or into a larger KeyCounts that it returns. */
  read(text: string | null, window: UsageWindowSeconds): KeyCounts {
    if (text === null) {
      this.n = 0;
      return this;
    }
    let fields = 1;
    for (let i = text.indexOf(','); i !== -1; i = text.indexOf(',', i + 1)) fields++;
    const most = Math.floor(fields / 3);
    const into = most <= this.capacity ? this : new KeyCounts(Math.max(most, 2 * this.capacity));
    const { starts, valid, refused } = into;
    const { from: after, to: before } = window;
    let bucket = 0;
    let field = 0;
    let from = 0;
    let value = 0;
    let plain = true;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : COMMA;
      if (c !== COMMA) {
        if (c >= 0x30 && c <= 0x39) value = value * 10 + (c - 0x30);
        else plain = false;
        continue;
      }
      // Anything but a short run of digits (a sign, a fraction, a count past 2^53) is left to Number.
      if (!plain || i - from > EXACT_DIGITS) value = Number(text.slice(from, i));
      if (field === 0) starts[bucket] = value;
      else if (field === 1) valid[bucket] = value;
      else {
        refused[bucket] = value;
        const start = starts[bucket]!;
        if (start >= after && start < before) bucket++;
      }
      field = field === 2 ? 0 : field + 1;
      from = i + 1;
      value = 0;
      plain = true;
    }
    into.n = bucket;
    return into;
  }

  /**
   * Puts the buckets oldest first, adding up those with the same start, unless they already are (the common
   * case: nothing to do). Each bucket's index is packed below its start, so one native sort of doubles, several
   * times faster than a comparator, gives the order, and equal starts come out side by side; a comparator sort
   * for starts that cannot be packed (not whole seconds in [0, 2^32), or more than 2^21 buckets).
   */
  oldestFirst(): void {
    const { n, starts, valid, refused } = this;
    let ordered = true;
    for (let i = 1; i < n && ordered; i++) ordered = starts[i - 1]! < starts[i]!;
    if (ordered) return;
    const spare = this.spare;
    let order: ArrayLike<number>;
    const packed = spare.packed.subarray(0, n);
    let packable = n <= INDEX_SPAN;
    for (let i = 0; i < n && packable; i++) {
      const start = starts[i]!;
      packable = Number.isInteger(start) && start >= 0 && start < PACKABLE_START;
      packed[i] = start * INDEX_SPAN + i;
    }
    if (packable) {
      packed.sort();
      for (let j = 0; j < n; j++) packed[j] = packed[j]! % INDEX_SPAN;
      order = packed;
    } else {
      order = Array.from({ length: n }, (_, i) => i).sort((a, b) => starts[a]! - starts[b]! || a - b);
    }
    let m = -1;
    for (let j = 0; j < n; j++) {
      const i = order[j]!;
      if (m >= 0 && spare.starts[m] === starts[i]) {
        spare.valid[m] = spare.valid[m]! + valid[i]!;
        spare.refused[m] = spare.refused[m]! + refused[i]!;
      } else {
        m++;
        spare.starts[m] = starts[i]!;
        spare.valid[m] = valid[i]!;
        spare.refused[m] = refused[i]!;
      }
    }
    [this.starts, spare.starts] = [spare.starts, this.starts];
    [this.valid, spare.valid] = [spare.valid, this.valid];
    [this.refused, spare.refused] = [spare.refused, this.refused];
    this.n = m + 1;
  }
}

/** A growing UTF-8 buffer; `bytes`, `byte` and `number` write within what `reserve` made room for. */
class JsonWriter {
  private buffer: Buffer;
  private at = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const larger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.at + bytes));
    this.buffer.copy(larger, 0, 0, this.at);
    this.buffer = larger;
  }

  text(s: string): void {
    this.reserve(Buffer.byteLength(s));
    this.at += this.buffer.write(s, this.at);
  }

  bytes(b: Buffer): void {
    this.reserve(b.length);
    this.buffer.set(b, this.at);
    this.at += b.length;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buffer[this.at++] = b;
  }

  /** `x` as JSON.stringify prints it; a count, so nearly always a small integer written digit by digit. */
  number(x: number): void {
    if (!(x >= 0 && x <= Number.MAX_SAFE_INTEGER && Number.isInteger(x))) return this.text(String(x));
    this.reserve(16);
    const buffer = this.buffer;
    let at = this.at;
    if (x < 10) buffer[at++] = 0x30 + x;
    else {
      let scale = 10;
      while (scale * 10 <= x) scale *= 10;
      for (; scale >= 1; scale /= 10) {
        const digit = Math.floor(x / scale);
        buffer[at++] = 0x30 + digit;
        x -= digit * scale;
      }
    }
    this.at = at;
  }

  done(): Buffer {
    return this.buffer.subarray(0, this.at);
  }
}
