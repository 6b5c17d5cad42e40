import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JwksFetcher } from 'src/auth/jwt/jwks-fetch';

/** Time as the key set sees it: injectable, so the refetch gate is tested without sleeping. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // Unref'd: a waiting request keeps the process alive anyway, a timer alone must not.
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
};

/**
 * The identity provider's keys could not be fetched (network error, timeout, HTTP error, a set without a
 * usable key) and the token's key is not in the last good set: nothing is known about the token, so the
 * caller gets a 503, not a 401.
 */
export class KeySourceUnavailableError extends Error {
  constructor(
    cause: unknown,
    /** When the next fetch may start: the caller's Retry-After. */
    readonly retryAfterSeconds = 5,
  ) {
    super(`signing keys unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'KeySourceUnavailableError';
  }
}

/** A verdict on the token: the issuer's current key set has no key for its header. */
export class NoMatchingKeyError extends Error {
  constructor() {
    super('no key in the JWKS matches the token header');
    this.name = 'NoMatchingKeyError';
  }
}

/**
 * Where a tier's verifier gets the key for a token's header: an identity provider's JWKS (RemoteKeySet) or
 * the development issuer's key in the database (DevelopmentIssuerService).
 */
export interface KeySource {
  /** Rejects with NoMatchingKeyError (a verdict) or KeySourceUnavailableError (nothing can be said). */
  keyFor(kid: string | undefined, alg: string): Promise<KeyObject>;
}

export interface RemoteKeySetOptions {
  fetch: JwksFetcher;
  /**
   * After a fetch spent on a kid the issuer does not have (junk), or a failed one, no fetch for an unknown kid
   * starts for this long; a due refresh never starts within this long of any fetch.
   */
  refetchIntervalMs: number;
  /** A set older than this is refreshed in the background when next used; its keys keep being served. */
  maxAgeMs: number;
  /** The algorithms a key may be used for (the tier's pinned ones). */
  algorithms: readonly string[];
  /** At most this many keys are read from a set. */
  maxKeys?: number;
  clock?: Clock;
  /** Called when a fetch fails (the last good set, if any, stays in use). */
  onFetchFailed?: (err: Error) => void;
}

interface PublishedKey {
  key: KeyObject;
  /** The JWK's `alg`, when it names one: then the key is only for that algorithm. */
  alg?: string;
}

/** One fetched key set, parsed once: KeyObjects are reused by every verification. */
class KeyTable {
  constructor(
    private readonly byKid: ReadonlyMap<string, PublishedKey>,
    private readonly all: readonly PublishedKey[],
  ) {}

  /** Whether the set has a key with this kid (or, for a token without a kid, exactly one key). */
  has(kid: string | undefined): boolean {
    return kid === undefined ? this.all.length === 1 : this.byKid.has(kid);
  }

  /** The key for a token's header, or undefined when none matches (no such kid, or another algorithm). */
  find(kid: string | undefined, alg: string): KeyObject | undefined {
    const entry = kid === undefined ? (this.all.length === 1 ? this.all[0] : undefined) : this.byKid.get(kid);
    if (!entry || (entry.alg !== undefined && entry.alg !== alg)) return undefined;
    return entry.key;
  }
}

const KEY_TYPES = new Set(['RSA', 'EC']);

/**
 * The usable signing keys of a JWKS document: RSA and EC keys for signatures (`use` absent or `sig`), whose
 * `alg`, when set, is one of `algorithms`. Keys that do not parse are skipped; a set with no usable key is a
 * failure, so a broken answer never replaces a good set.
 */
function parseKeySet(document: unknown, algorithms: readonly string[], maxKeys: number): KeyTable {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('the JWKS has no "keys" array');
  const byKid = new Map<string, PublishedKey>();
  const all: PublishedKey[] = [];
  for (const jwk of keys.slice(0, maxKeys) as Record<string, unknown>[]) {
    if (typeof jwk !== 'object' || jwk === null) continue;
    if (typeof jwk.kty !== 'string' || !KEY_TYPES.has(jwk.kty)) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.alg !== undefined && (typeof jwk.alg !== 'string' || !algorithms.includes(jwk.alg))) continue;
    let key: KeyObject;
    try {
      // Only the public members: a JWKS that (wrongly) carries private parts still yields a public key.
      const { kty, n, e, crv, x, y } = jwk;
      key = createPublicKey({ key: { kty, n, e, crv, x, y } as JsonWebKey, format: 'jwk' });
    } catch {
      continue;
    }
    const entry: PublishedKey = { key, ...(typeof jwk.alg === 'string' ? { alg: jwk.alg } : {}) };
    all.push(entry);
    if (typeof jwk.kid === 'string' && jwk.kid !== '' && !byKid.has(jwk.kid)) byKid.set(jwk.kid, entry);
  }
  if (!all.length) throw new Error('the JWKS has no usable signing key');
  return new KeyTable(byKid, all);
}

/**
 * An issuer's signing keys, fetched from its JWKS and kept, such that an unverified token can never deny
 * verification to legitimate ones:
 *
 * - A known `kid` is answered from the last good set at once, never waiting on a fetch. When the set is due
 *   for a refresh, the refresh runs in the background and the old keys keep serving until it succeeds
 *   (stale-while-revalidate); a failed refresh keeps them.
 * - An unknown `kid` asks for a refetch, which starts at once, and everyone who asks while one is pending
 *   shares it: a rotated key verifies after one fetch, however recently the set was fetched. Only a fetch
 *   that was spent in vain (it was asked for a kid, and the issuer's answer does not have it: junk) closes
 *   the gate: for `refetchIntervalMs` after it, unknown kids wait for the next opening, together. So junk
 *   costs at most one fetch per interval (plus one after each fetch that did find its kid), and a rotated
 *   key waits at most one interval while junk arrives. After a failed fetch, within the interval, callers
 *   get the failure at once rather than hanging on an issuer that is down.
 * - A caller only gets "no such key" from a set fetched after it arrived: one that joined a fetch already
 *   under way when its token came in asks again, so a token signed just after a rotation is not refused on
 *   an older answer.
 */
export class RemoteKeySet implements KeySource {
  private keys: KeyTable | undefined;
  private fetchedAt = -Infinity;
  /** When the latest fetch started, and whether it failed. */
  private attemptedAt = -Infinity;
  private lastFailure: Error | undefined;
  /** When the latest fetch spent in vain (its answer lacked a kid someone asked it for) started. */
  private missedAt = -Infinity;
  private pending: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly maxKeys: number;

  constructor(private readonly options: RemoteKeySetOptions) {
    this.clock = options.clock ?? systemClock;
    this.maxKeys = options.maxKeys ?? 100;
  }

  /**
   * The key for a token's header. Rejects with NoMatchingKeyError (a verdict: the issuer has no such key) or
   * KeySourceUnavailableError (the keys cannot be fetched, and the last good set does not have it).
   */
  async keyFor(kid: string | undefined, alg: string): Promise<KeyObject> {
    const known = this.keys;
    if (known?.has(kid)) {
      this.refreshIfDue();
      const key = known.find(kid, alg);
      if (!key) throw new NoMatchingKeyError();
      return key;
    }
    // A token without a kid is only matched against a single-key set: it never asks for a refetch.
    if (known && kid === undefined) throw new NoMatchingKeyError();
    const arrived = this.clock.now();
    for (;;) {
      await this.refetch();
      if (this.keys?.has(kid)) {
        const key = this.keys.find(kid, alg);
        if (!key) throw new NoMatchingKeyError();
        return key;
      }
      if (this.lastFailure)
        throw new KeySourceUnavailableError(this.lastFailure, this.secondsUntilNextFetch());
      // The answer was fetched after this token arrived and does not have its key: a verdict, and a fetch
      // spent in vain, which closes the gate for unknown kids.
      if (this.attemptedAt >= arrived) {
        this.missedAt = Math.max(this.missedAt, this.attemptedAt);
        throw new NoMatchingKeyError();
      }
    }
  }

  /** Until the next fetch may start after a failure, in whole seconds (at least 1). */
  private secondsUntilNextFetch(): number {
    const wait = this.attemptedAt + this.options.refetchIntervalMs - this.clock.now();
    return Math.max(1, Math.ceil(wait / 1000));
  }

  /** Starts a background refresh when the set is old and the gate is open; never waits. */
  private refreshIfDue(): void {
    if (this.pending) return;
    const now = this.clock.now();
    if (now - this.fetchedAt < this.options.maxAgeMs) return;
    if (now < this.attemptedAt + this.options.refetchIntervalMs) return;
    this.pending = this.fetchNow().finally(() => (this.pending = undefined));
  }

  /**
   * The shared fetch everyone waiting on a refetch awaits: the pending one, or a new one, at once unless a
   * fetch spent in vain closed the gate (then once it opens). After a failed fetch, within the interval,
   * nothing is fetched (the caller sees the failure at once).
   */
  private refetch(): Promise<void> {
    if (this.pending) return this.pending;
    const now = this.clock.now();
    if (this.lastFailure && now < this.attemptedAt + this.options.refetchIntervalMs) return Promise.resolve();
    const opensAt = this.missedAt + this.options.refetchIntervalMs;
    this.pending = (async () => {
      if (now < opensAt) await this.clock.sleep(opensAt - now);
      await this.fetchNow();
    })().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async fetchNow(): Promise<void> {
    this.attemptedAt = this.clock.now();
    try {
      this.keys = parseKeySet(await this.options.fetch(), this.options.algorithms, this.maxKeys);
      this.fetchedAt = this.attemptedAt;
      this.lastFailure = undefined;
    } catch (err) {
      this.lastFailure = err instanceof Error ? err : new Error(String(err));
      this.options.onFetchFailed?.(this.lastFailure);
    }
  }
}
