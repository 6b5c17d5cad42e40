import { Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';

/** What one instance saw of one client (or of no client: the deprecated admin tier) using one key. */
export interface KeyUse {
  /** `api_keys.id`. */
  id: string;
  /** The M2M client that resolved the key; null for a use that is not a resolve. */
  clientId: string | null;
  /** Epoch ms of the first and the last use seen since the last flush. */
  firstAt: number;
  lastAt: number;
}

export interface KeyUsageBufferOptions {
  /** A key and client written less than this long ago (by this instance) are not queued again. */
  precisionMs: number;
  /** Uses are collected this long, then written together. */
  flushDelayMs: number;
  /** At most this many key and client pairs wait for a flush; further new pairs are dropped until it. */
  maxPending: number;
  /** Writes one flush's uses (one entry per key and client, sorted by key then client). */
  write(uses: KeyUse[]): Promise<void>;
  /** Whether the database is busy: the flush's uses are then dropped and forgotten, so later uses record them. */
  busy?(): boolean;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * What the precision check remembers: at most this many keys, this many key and client pairs in all, and
 * this many clients per key (a key with more starts over). Forgetting only costs a write, but an LRU no larger
 * than the resolution cache (10,000 entries) forgets every key of a cycle the cache cannot hold before its
 * next use, and each of those uses is then written again, a flush a second. Five times the cache: about 10 MB
 * at most (an entry is about 100 bytes).
 */
export const MAX_REMEMBERED_KEYS = 50_000;
export const MAX_REMEMBERED_PAIRS = 100_000;
const MAX_REMEMBERED_CLIENTS_PER_KEY = 100;

/**
 * A key's waiting uses, one per client, and the clients an instance queued: short linked lists (most keys
 * have one client), so a use allocates no Map and a known pair allocates nothing.
 */
interface Waiting {
  id: string;
  clientId: string | null;
  /** `clientId ?? ''`. */
  client: string;
  firstAt: number;
  lastAt: number;
  next: Waiting | undefined;
}
interface Queued {
  client: string;
  /** When this instance last queued the pair; -Infinity once forgotten. */
  at: number;
  next: Queued | undefined;
}

/**
 * API-key uses, noted in memory on the resolution path and written off it (decision 0065). A use costs a Map
 * lookup: a pair (key, M2M client) already waiting for the flush only moves its last time; a pair this
 * instance queued less than `precisionMs` ago is skipped; anything else waits, at most `maxPending` pairs,
 * `flushDelayMs` for one batched `write`. A failed or skipped (busy) write is forgotten, so the next use
 * queues the pair again. `flush()` writes what is pending now (shutdown, tests); writes never overlap.
 */
export class KeyUsageBuffer {
  private readonly logger = new Logger('KeyUsage');
  /** Key id → the uses seen since the last flush, one per client. */
  private pending = new Map<string, Waiting>();
  private pendingPairs = 0;
  /** Key id → the clients this instance queued, and when (the list's length is its size). */
  private readonly queued = new LRUCache<string, Queued>({
    max: MAX_REMEMBERED_KEYS,
    maxSize: MAX_REMEMBERED_PAIRS,
    sizeCalculation: lengthOf,
  });
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: KeyUsageBufferOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Notes a use of key `id` by `clientId` (none: not a resolve); returns at once. */
  record(id: string, clientId: string | null = null): void {
    const now = this.now();
    const client = clientId ?? '';
    const waiting = this.pending.get(id);
    for (let w = waiting; w !== undefined; w = w.next) {
      if (w.client !== client) continue;
      if (now > w.lastAt) w.lastAt = now;
      return;
    }
    const remembered = this.queued.get(id);
    let known: Queued | undefined;
    let clients = 0;
    for (let q = remembered; q !== undefined && known === undefined; q = q.next, clients++)
      if (q.client === client) known = q;
    if (known !== undefined && now - known.at < this.options.precisionMs) return;
    if (this.pendingPairs >= this.options.maxPending) return;
    if (known !== undefined) known.at = now;
    else {
      // A new head (set again, so the cache counts the list's new length).
      const rest = clients >= MAX_REMEMBERED_CLIENTS_PER_KEY ? undefined : remembered;
      this.queued.set(id, { client, at: now, next: rest });
    }
    this.pending.set(id, { id, clientId, client, firstAt: now, lastAt: now, next: waiting });
    this.pendingPairs++;
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushDelayMs).unref();
  }

  /** Writes every pending use, after any write already under way; resolves when both are done. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingPairs === 0) return this.writing;
    const pending = this.pending;
    this.pending = new Map();
    this.pendingPairs = 0;
    const uses: KeyUse[] = [];
    for (const waiting of pending.values())
      for (let w: Waiting | undefined = waiting; w !== undefined; w = w.next)
        uses.push({ id: w.id, clientId: w.clientId, firstAt: w.firstAt, lastAt: w.lastAt });
    uses.sort((a, b) => compare(a.id, b.id) || compare(a.clientId ?? '', b.clientId ?? ''));
    if (this.options.busy?.()) {
      this.forget(uses);
      return this.writing;
    }
    const previous = this.writing;
    this.writing = previous.then(() => this.write(uses));
    return this.writing;
  }

  private async write(uses: KeyUse[]): Promise<void> {
    try {
      await this.options.write(uses);
    } catch (err) {
      this.forget(uses);
      this.logger.warn(
        { err: (err as Error).message, rows: uses.length },
        'could not record the last use and the consumers of API keys',
      );
    }
  }

  private forget(uses: KeyUse[]): void {
    for (const use of uses) {
      const client = use.clientId ?? '';
      for (let q = this.queued.peek(use.id); q !== undefined; q = q.next)
        if (q.client === client) q.at = -Infinity;
    }
  }
}

function lengthOf(queued: Queued): number {
  let n = 0;
  for (let q: Queued | undefined = queued; q !== undefined; q = q.next) n++;
  return n;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
