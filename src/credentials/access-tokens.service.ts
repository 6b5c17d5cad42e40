import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import {
  clientSecretExpiryKey,
  CredentialHealth,
  credentialStatus,
  type CredentialFailureType,
  type CredentialStatus,
} from 'src/credentials/credential-health';
import { CREDENTIAL_TARGET, CredentialsAudit } from 'src/credentials/credentials.audit';
import { credentialsConfig, type CredentialsConfig } from 'src/credentials/credentials.config';
import { credentialField, type CredentialColumn } from 'src/credentials/credentials.encrypted-table';
import {
  credentialsError,
  CredentialsErrorCode,
  upstreamFailed,
  type UpstreamFailureReason,
} from 'src/credentials/credentials.errors';
import type { AccessTokenDto, AccessTokenRequestDto } from 'src/credentials/dto/access-token.dto';
import {
  McpOAuthCredentialsRepository,
  type UsableCredentialRow,
} from 'src/credentials/mcp-oauth-credentials.repository';
import { RefreshSlots, type SlotShortage } from 'src/credentials/refresh-slots';
import { SingleFlight } from 'src/credentials/single-flight';
import { TokenEndpointClient, type RefreshOutcome } from 'src/credentials/token-endpoint-client';
import { DecryptionFailedError, encryptionKeyMissing } from 'src/crypto/encryption/encryption.errors';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { isWaitExceeded } from 'src/database/database-errors';
import { isoOrNull } from 'src/validation/instants';

/** A cached access token is served until this long before it expires, then refreshed. */
export const CACHE_MARGIN_MS = 60_000;
/**
 * How much longer than the refresh timeout a caller waits for a credential's row lock: the holder keeps it
 * for at most the refresh timeout plus a few writes.
 */
const LOCK_SLACK_MS = 5_000;
/** PostgreSQL ends a session idle in a refresh transaction this long past the refresh timeout. */
const IDLE_SLACK_MS = 10_000;

/** The first backoff of a failing credential; each further failure doubles it, up to BACKOFF_MAX_MS. */
export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_MAX_MS = 10 * 60_000;

/**
 * How long a credential backs off after its `failures`-th consecutive upstream failure: nothing below the
 * threshold, then 30 s, 1 min, 2 min, 4 min, 8 min, and 10 min from then on.
 */
export function backoffAfter(failures: number, threshold: number): number | null {
  if (failures < threshold) return null;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(failures - threshold, 16));
}

const SHORTAGE_ERRORS: Record<SlotShortage, CredentialsErrorCode> = {
  instance: CredentialsErrorCode.RefreshBusy,
  user: CredentialsErrorCode.UserRefreshesBusy,
  host: CredentialsErrorCode.HostRefreshesBusy,
};

type LockedOutcome =
  | { token: AccessTokenDto }
  | { reauthorizationRequired: true }
  | { failed: UpstreamFailureReason; retryAfterSeconds?: number };

/**
 * Fresh access tokens for internal runtimes, from the refresh tokens users deposited; the refresh token
 * itself never leaves.
 *
 * Single flight: concurrent callers for one credential share one refresh. Within an instance they share one
 * promise; across instances the refresh runs in a transaction holding the credential's row lock
 * (`SELECT … FOR UPDATE`), and whoever waited re-reads the row once they hold it, finding the access token
 * just stored. That token is kept encrypted on the row until shortly before it expires, so most calls are one
 * indexed read and a decryption.
 *
 * The transaction holds a database connection while the token endpoint answers: that time is bounded by
 * CREDENTIALS_REFRESH_TIMEOUT_MS, lock waits by the same plus a few seconds, and the number of refreshes an
 * instance runs at once by CREDENTIALS_MAX_CONCURRENT_REFRESHES, so slow token endpoints cannot take the
 * whole pool. Those slots are shared fairly (RefreshSlots): one user, and one token-endpoint host, hold at
 * most their share, and a refresh that finds none free answers 503 at once instead of queueing behind
 * someone else's. A credential that failed CREDENTIALS_FAILURES_BEFORE_BACKOFF times in a row is not tried
 * again until its backoff ends (502 `backing_off` with Retry-After), so hanging endpoints stop taking slots.
 */
@Injectable()
export class AccessTokensService {
  private readonly logger = new Logger('Credentials');
  private readonly flights = new SingleFlight<AccessTokenDto>();
  private readonly refreshSlots: RefreshSlots;
  /** Client-secret expiries this instance announced (or found announced): not written again. */
  private readonly announcedExpiries = new LRUCache<string, true>({ max: 10_000 });

  constructor(
    @Inject(credentialsConfig.KEY) private readonly config: CredentialsConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly credentials: McpOAuthCredentialsRepository,
    private readonly encryption: EncryptionService,
    private readonly client: TokenEndpointClient,
    private readonly audit: AuditService,
    private readonly health: CredentialHealth,
  ) {
    this.refreshSlots = new RefreshSlots({
      total: config.maxConcurrentRefreshes,
      perUser: config.maxRefreshesPerUser,
      perHost: config.maxRefreshesPerHost,
    });
  }

  async accessToken(ctx: AuditContext, dto: AccessTokenRequestDto): Promise<AccessTokenDto> {
    if (!this.encryption.available) throw encryptionKeyMissing();
    const row = await this.credentials.findUsable(dto.userId, dto.mcpServerId);
    if (row) await this.announceExpiredSecret(row);
    this.refuseUnusable(row);
    const cached = this.cachedToken(row);
    if (cached) return cached;
    refuseBackingOff(row);
    const host = new URL(row.tokenEndpoint).host;
    const seenFailureAt = row.lastFailureAt;
    return this.flights.run(`${dto.userId}\n${dto.mcpServerId}`, () =>
      this.refreshLocked(ctx, dto, host, seenFailureAt),
    );
  }

  /**
   * `seenFailureAt` is the last failure the caller saw before it queued for the row lock: a newer one found
   * under the lock was recorded by a refresh that ran while it waited (on another instance), and is answered
   * as it is instead of calling the provider again, so instances that queue behind each other for a failing
   * provider cost it one call, not one each.
   */
  private async refreshLocked(
    ctx: AuditContext,
    dto: AccessTokenRequestDto,
    host: string,
    seenFailureAt: Date | null,
  ): Promise<AccessTokenDto> {
    const waitMs = this.config.refreshTimeoutMs + LOCK_SLACK_MS;
    const slot = this.refreshSlots.tryAcquire(dto.userId, host);
    if ('shortage' in slot) {
      this.logger.warn(
        { userId: dto.userId, mcpServerId: dto.mcpServerId, endpointHost: host, shortage: slot.shortage },
        'no refresh slot free within the share',
      );
      throw credentialsError(SHORTAGE_ERRORS[slot.shortage]);
    }
    let outcome: LockedOutcome;
    try {
      outcome = await this.dataSource.transaction(async (m) => {
        await this.credentials.boundTransaction(m, waitMs, this.config.refreshTimeoutMs + IDLE_SLACK_MS);
        const row = await this.credentials.lockUsable(dto.userId, dto.mcpServerId, m);
        this.refuseUnusable(row);
        // Whoever held the lock before us (on any instance) may have just refreshed.
        const cached = this.cachedToken(row);
        if (cached) return { token: cached };
        refuseBackingOff(row);
        const justFailed = failedSince(row, seenFailureAt);
        if (justFailed) return { failed: justFailed };
        return this.refresh(ctx, row, m);
      });
    } catch (err) {
      if (isWaitExceeded(err)) {
        this.logger.warn(
          { userId: dto.userId, mcpServerId: dto.mcpServerId },
          'waited too long for a credential refresh in progress',
        );
        throw credentialsError(CredentialsErrorCode.RefreshBusy);
      }
      throw err;
    } finally {
      slot.release();
    }
    if ('reauthorizationRequired' in outcome)
      throw credentialsError(CredentialsErrorCode.ReauthorizationRequired);
    if ('failed' in outcome) throw upstreamFailed(outcome.failed, outcome.retryAfterSeconds);
    return outcome.token;
  }

  /** Runs the grant and stores its result, in the transaction that holds the row lock. */
  private async refresh(
    ctx: AuditContext,
    row: UsableCredentialRow,
    m: EntityManager,
  ): Promise<LockedOutcome> {
    const refreshToken = this.decrypt(row, 'refresh_token_enc', row.refreshTokenEnc);
    const clientSecret = row.clientSecretEnc && this.decrypt(row, 'client_secret_enc', row.clientSecretEnc);
    const outcome = await this.client.refresh({
      tokenEndpoint: row.tokenEndpoint,
      refreshToken,
      clientId: row.clientId,
      clientSecret,
      authMethod: row.authMethod,
      resource: row.resource,
    });
    const from = credentialStatus(row);
    switch (outcome.kind) {
      case 'issued': {
        const token = await this.storeIssued(row, outcome, refreshToken, clientSecret, m);
        await this.healthChanged(m, row, from, 'healthy', { consecutiveFailures: 0 });
        return { token };
      }
      case 'invalid_grant':
        await this.credentials.markReauthorizationRequired(row.id, m);
        await this.healthChanged(m, row, from, 'reauthorization_required', {
          consecutiveFailures: row.consecutiveFailures + 1,
          failureType: 'invalid_grant',
        });
        await this.audit.record(
          ctx,
          {
            action: CredentialsAudit.ReauthorizationRequired,
            targetType: CREDENTIAL_TARGET,
            targetId: row.id,
            metadata: { userId: row.userId, mcpServerId: row.mcpServerId },
          },
          m,
        );
        this.logger.warn(this.about(row), 'the token endpoint refused the refresh token (invalid_grant)');
        return { reauthorizationRequired: true };
      case 'refused': {
        const failure = await this.recordFailure(row, 'host_refused', m);
        this.logger.warn(
          { ...this.about(row), ...failure.log, detail: outcome.reason },
          'token endpoint refused by the outbound policy',
        );
        return failure.outcome;
      }
      case 'failed': {
        const failure = await this.recordFailure(row, outcome.cause, m);
        this.logger.warn(
          {
            ...this.about(row),
            ...failure.log,
            detail: outcome.reason,
            status: outcome.status,
            oauthError: outcome.oauthError,
          },
          'token refresh failed',
        );
        return failure.outcome;
      }
    }
  }

  /**
   * Counts an upstream failure on the row (committed with the refresh transaction, so every instance sees
   * it) and starts the backoff once the failures reach CREDENTIALS_FAILURES_BEFORE_BACKOFF.
   */
  private async recordFailure(
    row: UsableCredentialRow,
    reason: Exclude<CredentialFailureType, 'invalid_grant'>,
    m: EntityManager,
  ): Promise<{ outcome: LockedOutcome; log: Record<string, unknown> }> {
    const failures = row.consecutiveFailures + 1;
    const backoffMs = backoffAfter(failures, this.config.failuresBeforeBackoff);
    await this.credentials.recordFailure(row.id, reason, backoffMs, m);
    await this.healthChanged(m, row, credentialStatus(row), 'failing', {
      consecutiveFailures: failures,
      failureType: reason,
    });
    return {
      outcome:
        backoffMs === null
          ? { failed: reason }
          : { failed: reason, retryAfterSeconds: Math.ceil(backoffMs / 1000) },
      log: { reason, consecutiveFailures: failures, backoffMs },
    };
  }

  /**
   * Stores a refresh's result: the rotated refresh token (or the same one), and the access token while it has
   * more than the cache margin to live. Every ciphertext of the row is rewritten under the current key
   * version, so the row keeps one version.
   */
  private async storeIssued(
    row: UsableCredentialRow,
    issued: Extract<RefreshOutcome, { kind: 'issued' }>,
    refreshToken: string,
    clientSecret: string | null,
    m: EntityManager,
  ): Promise<AccessTokenDto> {
    const now = Date.now();
    const expiresAt =
      issued.expiresInSeconds === null ? null : new Date(now + issued.expiresInSeconds * 1000);
    const cacheable = expiresAt !== null && expiresAt.getTime() - CACHE_MARGIN_MS > now;
    const encrypt = (value: string, column: CredentialColumn) =>
      this.encryption.encrypt(value, credentialField(row.userId, row.mcpServerId, column));
    const newRefreshToken = encrypt(issued.refreshToken ?? refreshToken, 'refresh_token_enc');
    await this.credentials.storeRefreshed(
      row.id,
      {
        refreshTokenEnc: newRefreshToken.ciphertext,
        clientSecretEnc: clientSecret === null ? null : encrypt(clientSecret, 'client_secret_enc').ciphertext,
        accessTokenEnc: cacheable ? encrypt(issued.accessToken, 'access_token_enc').ciphertext : null,
        accessTokenType: cacheable ? issued.tokenType : null,
        accessTokenScope: cacheable ? issued.scope : null,
        accessTokenExpiresAt: cacheable ? expiresAt : null,
        encKeyVersion: newRefreshToken.keyVersion,
      },
      m,
    );
    return {
      accessToken: issued.accessToken,
      tokenType: issued.tokenType,
      expiresAt: isoOrNull(expiresAt),
      scope: issued.scope ?? row.scopes,
    };
  }

  /**
   * A refresh changed the credential's status (written in `m`, the transaction holding its row lock): the
   * one place that announces it (CredentialHealth.healthChanged). Nothing when the status stays.
   */
  private async healthChanged(
    m: EntityManager,
    row: UsableCredentialRow,
    from: CredentialStatus,
    to: CredentialStatus,
    change: { consecutiveFailures: number; failureType?: CredentialFailureType },
  ): Promise<void> {
    if (from === to) return;
    await this.health.healthChanged(m, row, from, to, { cause: 'refresh', ...change });
  }

  /**
   * A client secret that expired changed the credential's status to `reauthorization_required` by time alone:
   * the first call that finds it so announces it (once per credential and expiry, by the event's dedup key;
   * this instance also remembers it, so later calls cost nothing). The call is then answered 409 as before.
   */
  private async announceExpiredSecret(row: UsableCredentialRow): Promise<void> {
    const expiresAt = row.clientSecretExpiresAt;
    if (!expiresAt || expiresAt.getTime() > Date.now()) return;
    if (row.userDisabledAt || row.reauthorizationRequiredAt) return;
    const key = clientSecretExpiryKey(row.id, expiresAt);
    if (this.announcedExpiries.has(key)) return;
    await this.health.healthChanged(
      this.dataSource.manager,
      row,
      credentialStatus({ ...row, clientSecretExpiresAt: null }),
      'reauthorization_required',
      { cause: 'client_secret_expired', consecutiveFailures: row.consecutiveFailures, dedupKey: key },
    );
    this.announcedExpiries.set(key, true);
  }

  private refuseUnusable(row: UsableCredentialRow | undefined): asserts row is UsableCredentialRow {
    if (!row) throw credentialsError(CredentialsErrorCode.CredentialNotFound);
    if (row.userDisabledAt) throw credentialsError(CredentialsErrorCode.UserDisabled);
    if (row.reauthorizationRequiredAt) throw credentialsError(CredentialsErrorCode.ReauthorizationRequired);
    if (row.clientSecretExpiresAt && row.clientSecretExpiresAt.getTime() <= Date.now())
      throw credentialsError(CredentialsErrorCode.ClientSecretExpired);
  }

  /** The cached access token, while it has more than the margin to live. */
  private cachedToken(row: UsableCredentialRow): AccessTokenDto | undefined {
    const { accessTokenEnc: enc, accessTokenExpiresAt: expiresAt, accessTokenType: tokenType } = row;
    if (!enc || !expiresAt || !tokenType || expiresAt.getTime() - CACHE_MARGIN_MS <= Date.now())
      return undefined;
    return {
      accessToken: this.decrypt(row, 'access_token_enc', enc),
      tokenType,
      expiresAt: isoOrNull(expiresAt),
      scope: row.accessTokenScope ?? row.scopes,
    };
  }

  /**
   * A value this instance cannot decrypt (its version is not configured here, or this instance's secret for
   * it differs) is a 503 `encryption_key_missing`: the transaction rolls back and the row stays as it is for
   * an instance that can read it. A decryption failure never erases or rewrites a credential.
   */
  private decrypt(row: UsableCredentialRow, column: CredentialColumn, value: Buffer): string {
    try {
      return this.encryption.decrypt(
        value,
        row.encKeyVersion,
        credentialField(row.userId, row.mcpServerId, column),
      );
    } catch (err) {
      if (!(err instanceof DecryptionFailedError)) throw err;
      this.logger.error(
        { ...this.about(row), column, keyVersion: row.encKeyVersion },
        "a stored credential could not be decrypted on this instance: left as it is (check this instance's encryption secrets)",
      );
      throw encryptionKeyMissing();
    }
  }

  /** What a log line says about a credential: ids and the endpoint's host, never a value. */
  private about(row: UsableCredentialRow): Record<string, unknown> {
    return {
      userId: row.userId,
      mcpServerId: row.mcpServerId,
      endpointHost: new URL(row.tokenEndpoint).host,
    };
  }
}

/**
 * The failure a refresh recorded after `seenFailureAt` (the last one the caller saw before queueing for the
 * row lock); undefined when there is none newer. One that started a backoff never gets here (the caller
 * answers `backing_off` with Retry-After before), nor `invalid_grant` (the row answers 409 before).
 */
function failedSince(
  row: UsableCredentialRow,
  seenFailureAt: Date | null,
): UpstreamFailureReason | undefined {
  const { lastFailureAt: at, lastFailureReason: reason } = row;
  if (!at || !reason || reason === 'invalid_grant') return undefined;
  if (seenFailureAt && at.getTime() <= seenFailureAt.getTime()) return undefined;
  return reason;
}

/** 502 `backing_off` while the credential's backoff runs, with the seconds left as Retry-After. */
function refuseBackingOff(row: UsableCredentialRow): void {
  const left = row.backoffUntil ? row.backoffUntil.getTime() - Date.now() : 0;
  if (left > 0) throw upstreamFailed('backing_off', Math.max(1, Math.ceil(left / 1000)));
}
