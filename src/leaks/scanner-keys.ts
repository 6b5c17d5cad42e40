import { Inject, Injectable, Logger } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { KeySourceUnavailableError, NoMatchingKeyError, RemoteKeySet } from 'src/auth/jwt/key-set';
import { HostResolver } from 'src/http/host-resolver';
import { leaksConfig, type LeaksConfig } from 'src/leaks/leaks.config';
import { SCANNER_ALGORITHM, scannerKeysFetcher } from 'src/leaks/scanner-key-set';

/** The key set is refreshed in the background (its keys still served) once it is this old, as JWKS are. */
const KEY_SET_MAX_AGE_MS = 10 * 60 * 1000;

/** What the key lookup concluded for a report's key identifier. */
export type ScannerKeyLookup =
  | { kind: 'key'; key: KeyObject }
  /** The scanner's current keys have no key of this identifier: the report is refused (401). */
  | { kind: 'unknown' }
  /** The keys cannot be fetched and the last good set lacks it: nothing can be said (503). */
  | { kind: 'unavailable'; retryAfterSeconds: number };

/**
 * GitHub's secret-scanning public keys (SECRET_SCANNING_GITHUB_KEYS_URL), kept by the JWKS key set's own
 * RemoteKeySet, so the same rule holds (decision 0040): a known identifier never waits on a fetch, an unknown
 * one fetches at once, and a fetch spent on an identifier the scanner does not publish closes the gate for
 * SECRET_SCANNING_KEYS_REFETCH_INTERVAL_SECONDS: unsigned junk costs at most one fetch per interval, whoever
 * sends it. Not configured: `configured` is false and nothing is ever fetched.
 */
@Injectable()
export class ScannerKeys {
  private readonly logger = new Logger('ScannerKeys');
  private readonly keys: RemoteKeySet | undefined;

  constructor(@Inject(leaksConfig.KEY) config: LeaksConfig, resolver: HostResolver) {
    if (config.githubKeysUrl === undefined) return;
    this.keys = new RemoteKeySet({
      fetch: scannerKeysFetcher(config.githubKeysUrl, resolver),
      refetchIntervalMs: config.keysRefetchIntervalMs,
      maxAgeMs: KEY_SET_MAX_AGE_MS,
      algorithms: [SCANNER_ALGORITHM],
      onFetchFailed: (err) =>
        this.logger.warn(
          { err: err.message },
          "secret scanner's key fetch failed; the last good key set (if any) stays in use",
        ),
    });
  }

  get configured(): boolean {
    return this.keys !== undefined;
  }

  async lookup(keyIdentifier: string): Promise<ScannerKeyLookup> {
    if (!this.keys) return { kind: 'unknown' };
    try {
      return { kind: 'key', key: await this.keys.keyFor(keyIdentifier, SCANNER_ALGORITHM) };
    } catch (err) {
      if (err instanceof NoMatchingKeyError) return { kind: 'unknown' };
      if (err instanceof KeySourceUnavailableError)
        return { kind: 'unavailable', retryAfterSeconds: err.retryAfterSeconds };
      throw err;
    }
  }
}
