import { Injectable, Logger } from '@nestjs/common';
import { ApiKeyCache, type Resolution } from 'src/api-key-resolution/api-key-cache';
import {
  apiKeyResolutionError,
  ApiKeyResolutionErrorCode,
} from 'src/api-key-resolution/api-key-resolution.errors';
import { hashApiKey, hashesEqual, parseApiKey } from 'src/api-keys/api-key-format';
import { ApiKeysRepository, type ResolvableKeyRow } from 'src/api-keys/api-keys.repository';
import { graceEndMs } from 'src/api-keys/grace';

/**
 * A lookup that has not answered by then is given up (503): an unresponsive database (a lock, a stalled
 * connection) must not hold callers for the pool's statement_timeout. The query itself goes on until it
 * finishes or statement_timeout cancels it.
 */
export const LOOKUP_TIMEOUT_MS = 2_000;

class LookupTimeoutError extends Error {
  constructor() {
    super(`API key lookup took longer than ${LOOKUP_TIMEOUT_MS} ms`);
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LookupTimeoutError()), ms);
  });
  // The abandoned query's eventual failure must not surface as an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const INVALID: Resolution = { kind: 'invalid' };
/** Most keys have no scopes: they share these instead of an empty array and Set each. */
const NONE: readonly string[] = Object.freeze([]);
const NO_SCOPES: ReadonlySet<string> = new Set<string>();

/**
 * Cache misses that arrive together, in one turn of the event loop, share one query of at most this many
 * keys: under load that is one round trip to PostgreSQL for many requests instead of one each; alone, a miss
 * waits only for the end of the current turn.
 */
export const MAX_LOOKUP_BATCH = 100;

interface Waiter {
  resolve(row: ResolvableKeyRow | undefined): void;
  reject(err: unknown): void;
}

/**
 * What a presented key is: parse (a malformed key never reaches the database), then the cache, then one
 * indexed lookup by key id, a constant-time comparison of the hash, and the revoked, expired and
 * user-disabled checks. Definitive answers are cached (see ApiKeyCache); a database failure is never cached
 * and is thrown as 503 `key_resolution_unavailable`.
 */
@Injectable()
export class ApiKeyLookup {
  private readonly logger = new Logger('ApiKeyLookup');
  /** Whether the last lookup failed: an outage is logged when it starts and when it ends, not per call. */
  private failing = false;
  /** The misses of this turn of the event loop, by key id, waiting for their query. */
  private batch = new Map<string, Waiter[]>();

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly cache: ApiKeyCache,
  ) {}

  /**
   * A malformed key or a cached refusal is answered at once; a cached positive once the revocation feed's
   * barrier passed (every revocation committed before this call has been applied: a revoked key never comes
   * back from the cache, on any instance); anything else from the database.
   */
  find(presented: string): Resolution | Promise<Resolution> {
    const parsed = parseApiKey(presented);
    if (!parsed) return INVALID;
    // The cache key is the key's SHA-256, never the key; it is also what the stored hash is compared with.
    const hash = hashApiKey(presented);
    const cached = this.cache.lookup(hash);
    if (cached === undefined) return this.fetch(parsed.keyId, hash);
    if (!(cached instanceof Promise)) return cached;
    // A cached positive once the barrier passed; the database when the feed cannot tell.
    return cached.then((resolution) => resolution ?? this.fetch(parsed.keyId, hash));
  }

  private async fetch(keyId: string, hash: string): Promise<Resolution> {
    const generation = this.cache.generation;
    let row: ResolvableKeyRow | undefined;
    try {
      row = await withTimeout(this.load(keyId), LOOKUP_TIMEOUT_MS);
    } catch (err) {
      if (!this.failing) {
        this.failing = true;
        this.logger.error(
          { err: (err as Error).message },
          'API key lookups are failing: answering 503 key_resolution_unavailable until the database answers',
        );
      }
      throw apiKeyResolutionError(ApiKeyResolutionErrorCode.Unavailable);
    }
    if (this.failing) {
      this.failing = false;
      this.logger.log('API key lookups are answering again');
    }
    const { resolution, keyId: matched } = decide(row, hash);
    this.cache.set(hash, resolution, generation, matched);
    return resolution;
  }

  /** The row of key id `keyId`, read with the other misses of this turn of the event loop. */
  private load(keyId: string): Promise<ResolvableKeyRow | undefined> {
    return new Promise((resolve, reject) => {
      let waiting = this.batch.get(keyId);
      if (!waiting) {
        // setImmediate, not a microtask: the requests read from other sockets in this poll phase join in.
        if (this.batch.size === 0) setImmediate(() => this.send());
        waiting = [];
        this.batch.set(keyId, waiting);
      }
      waiting.push({ resolve, reject });
      if (this.batch.size >= MAX_LOOKUP_BATCH) this.send();
    });
  }

  private send(): void {
    const batch = this.batch;
    if (batch.size === 0) return;
    this.batch = new Map();
    this.keys.findResolvable([...batch.keys()]).then(
      (rows) => {
        const byKeyId = new Map(rows.map((row) => [row.keyId, row]));
        for (const [keyId, waiting] of batch) for (const w of waiting) w.resolve(byKeyId.get(keyId));
      },
      (err: unknown) => {
        for (const waiting of batch.values()) for (const w of waiting) w.reject(err);
      },
    );
  }
}

/**
 * The resolution of `row` for a key of digest `hash`, and the key id when the hash matched: every refusal of
 * an existing key is held under its id (decision 0019), because each can change into another answer: a
 * switched-off key switched on again, and any key of a user who is disabled or enabled (decision 0080).
 */
function decide(row: ResolvableKeyRow | undefined, hash: string): { resolution: Resolution; keyId?: string } {
  // The comparison runs whether or not a row was found, against a dummy hash for an unknown key id.
  const matches = hashesEqual(hash, row?.keyHash ?? '0'.repeat(64)) && row !== undefined;
  if (!row || !matches) return { resolution: INVALID };
  const keyId = row.keyId;
  // While its user is disabled, every key of theirs answers 403, whatever its own state (revoked by the kill
  // switch or before, expired, rolled away, switched off): the presenter proved they hold this exact secret,
  // so naming the disabled identity tells them nothing they did not know (API.md; decision 0080).
  if (row.disabledAt) return { resolution: { kind: 'user_disabled', id: row.id }, keyId };
  // The secret matched: a refusal from here on names the key, so that it is counted (decision 0095). Allocated
  // once per cache fill, never per call.
  const refused: Resolution = { kind: 'invalid', id: row.id };
  if (row.revokedAt) return { resolution: refused, keyId };
  const now = Date.now();
  if (row.expiresAt && row.expiresAt.getTime() <= now) return { resolution: refused, keyId };
  // A rolled key past its grace is revoked for good (decision 0060): refused like one.
  const graceEnd = graceEndMs(row);
  if (graceEnd !== null && graceEnd <= now) return { resolution: refused, keyId };
  // A switched-off key answers like a revoked one.
  if (row.keyDisabledAt) return { resolution: refused, keyId };
  const scopes = row.scopes?.length ? row.scopes : NONE;
  return {
    resolution: {
      kind: 'ok',
      key: {
        id: row.id,
        keyId: row.keyId,
        keyPrefix: row.keyPrefix,
        allowedOrigins: row.allowedOrigins ?? [],
        // Computed once per cache fill, so the hot path neither copies, joins nor searches a list.
        scopes: Object.freeze(scopes),
        scopeSet: scopes.length > 0 ? new Set(scopes) : NO_SCOPES,
        scopeClaim: scopes.length > 0 ? scopes.join(' ') : undefined,
        expiresAt: row.expiresAt,
        rolling:
          graceEnd === null
            ? undefined
            : Object.freeze({ successorId: row.successorId!, graceEndsAt: row.graceEndsAt!.toISOString() }),
        liveUntilMs: earliest(row.expiresAt?.getTime() ?? null, graceEnd),
        user: { id: row.userId, externalId: row.externalId, email: row.email, name: row.userName },
        project: { id: row.projectId, name: row.projectName },
      },
    },
  };
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}
