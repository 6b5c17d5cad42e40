import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiKeyCache, type ResolvedApiKey, type Resolution } from 'src/api-keys/api-key-cache';
import { hashApiKey, hashesEqual, parseApiKey } from 'src/api-keys/api-key-format';
import { ApiKeyUsageRecorder } from 'src/api-keys/api-key-usage.service';
import { ApiError } from 'src/errors/api-error';

/** How long a caller should wait before retrying when the database cannot be reached. */
export const RESOLUTION_RETRY_AFTER_SECONDS = 5;
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

interface KeyRow {
  id: string;
  key_id: string;
  key_hash: string;
  key_prefix: string;
  allowed_origins: string[];
  revoked_at: Date | null;
  expires_at: Date | null;
  user_id: string;
  external_id: string;
  email: string | null;
  user_name: string | null;
  disabled_at: Date | null;
  project_id: string;
  project_name: string;
}

// One indexed lookup (the unique index on key_id) that also brings the user and the project. Only
// keysmith-minted keys resolve: a provider-issued key is the provider's credential, not one of ours, even
// when it happens to be shaped like `ksk_<id>_<secret>`.
const LOOKUP_SQL = `
  SELECT k.id, k.key_id, k.key_hash, k.key_prefix, k.allowed_origins, k.revoked_at, k.expires_at,
         u.id AS user_id, u.external_id, u.email, u.name AS user_name, u.disabled_at,
         p.id AS project_id, p.name AS project_name
    FROM api_keys k
    JOIN users u ON u.id = k.user_id
    JOIN projects p ON p.id = k.project_id
   WHERE k.key_id = $1 AND k.billing_provider_id IS NULL`;

const INVALID: Resolution = { kind: 'invalid' };

/**
 * Turns a presented API key into an identity: parse (a malformed key never reaches the database), then
 * the cache, then one indexed lookup by key id, a constant-time comparison of the hash, and the revoked,
 * expired and user-disabled checks. Definitive answers are cached (see ApiKeyCache); a database failure is
 * never cached and surfaces as 503 `key_resolution_unavailable`.
 */
@Injectable()
export class ApiKeyResolver {
  private readonly logger = new Logger('ApiKeyResolver');
  /** Whether the last lookup failed: an outage is logged when it starts and when it ends, not per call. */
  private failing = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cache: ApiKeyCache,
    private readonly usage: ApiKeyUsageRecorder,
  ) {}

  /**
   * The live key `presented` proves, or throws: 401 `invalid_api_key` (malformed, unknown, wrong secret,
   * revoked, expired — all alike), 403 `identity_not_allowed` (the user is disabled), 503
   * `key_resolution_unavailable` with Retry-After (the database cannot be reached).
   */
  resolve(presented: string): Promise<ResolvedApiKey> | ResolvedApiKey {
    // A cache hit (or a malformed key) is answered synchronously: no promise on the hot path.
    const resolution = this.lookup(presented);
    return resolution instanceof Promise ? resolution.then((r) => this.answer(r)) : this.answer(resolution);
  }

  private answer(resolution: Resolution): ResolvedApiKey {
    switch (resolution.kind) {
      case 'ok':
        this.usage.record(resolution.key.id);
        return resolution.key;
      case 'invalid':
        throw new ApiError('invalid_api_key', 'Invalid API key.');
      case 'user_disabled':
        throw new ApiError('identity_not_allowed', 'The identity behind this API key is not allowed.');
    }
  }

  /**
   * For the deprecated API-key admin tier: the live key and its user, or null for any key that would not
   * resolve (including a disabled user). Mints nothing. Throws 503 `key_resolution_unavailable` when the
   * database cannot be reached, so an outage is not reported as a bad credential.
   */
  async verify(presented: string): Promise<ResolvedApiKey | null> {
    const resolution = await this.lookup(presented);
    if (resolution.kind !== 'ok') return null;
    this.usage.record(resolution.key.id);
    return resolution.key;
  }

  /** The cached or malformed-key answer at once, otherwise the database lookup's. */
  private lookup(presented: string): Resolution | Promise<Resolution> {
    const parsed = parseApiKey(presented);
    if (!parsed) return INVALID;
    // The cache key is the key's SHA-256, never the key; it is also what the stored hash is compared with.
    const hash = hashApiKey(presented);
    return this.cache.get(hash) ?? this.fetch(parsed.keyId, hash);
  }

  private async fetch(keyId: string, hash: string): Promise<Resolution> {
    const generation = this.cache.generation;
    let rows: KeyRow[];
    try {
      rows = await withTimeout(this.dataSource.query<KeyRow[]>(LOOKUP_SQL, [keyId]), LOOKUP_TIMEOUT_MS);
    } catch (err) {
      if (!this.failing) {
        this.failing = true;
        this.logger.error(
          { err: (err as Error).message },
          'API key lookups are failing: answering 503 key_resolution_unavailable until the database answers',
        );
      }
      throw new ApiError('key_resolution_unavailable', 'API key resolution is unavailable. Retry later.', {
        retryAfterSeconds: RESOLUTION_RETRY_AFTER_SECONDS,
      });
    }
    if (this.failing) {
      this.failing = false;
      this.logger.log('API key lookups are answering again');
    }
    const resolution = decide(rows[0], hash);
    this.cache.set(hash, resolution, generation);
    return resolution;
  }
}

function decide(row: KeyRow | undefined, hash: string): Resolution {
  // The comparison runs whether or not a row was found, against a dummy hash for an unknown key id.
  const matches = hashesEqual(hash, row?.key_hash ?? '0'.repeat(64)) && row !== undefined;
  if (!row || !matches || row.revoked_at) return INVALID;
  if (row.expires_at && row.expires_at.getTime() <= Date.now()) return INVALID;
  if (row.disabled_at) return { kind: 'user_disabled' };
  return {
    kind: 'ok',
    key: {
      id: row.id,
      keyId: row.key_id,
      keyPrefix: row.key_prefix,
      allowedOrigins: row.allowed_origins ?? [],
      expiresAt: row.expires_at,
      user: { id: row.user_id, externalId: row.external_id, email: row.email, name: row.user_name },
      project: { id: row.project_id, name: row.project_name },
    },
  };
}
