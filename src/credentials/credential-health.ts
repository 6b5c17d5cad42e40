import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { UpstreamFailureReason } from 'src/credentials/credentials.errors';
import { EventsOutbox } from 'src/events/events-outbox';

/** A stored credential's health, as the list shows it (API.md, "Credential health"). */
export const CREDENTIAL_STATUSES = ['healthy', 'failing', 'reauthorization_required'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

/**
 * What a refresh failure is recorded as (`lastFailure.type`, column `last_failure_reason`): the 502 reasons
 * of credentials.errors.ts that mean "the provider was tried and did not issue a token", and `invalid_grant`.
 * keysmith's own words, never the provider's text (a provider's `error_description` can carry anything).
 */
export const CREDENTIAL_FAILURE_TYPES = [
  'host_refused',
  'client_rejected',
  'request_rejected',
  'provider_unavailable',
  'timeout',
  'invalid_response',
  'invalid_grant',
] as const satisfies readonly (Exclude<UpstreamFailureReason, 'backing_off'> | 'invalid_grant')[];
export type CredentialFailureType = (typeof CREDENTIAL_FAILURE_TYPES)[number];

/** The row fields a credential's status is derived from. */
export interface HealthFields {
  reauthorizationRequiredAt: Date | null;
  clientSecretExpiresAt: Date | null;
  consecutiveFailures: number;
}

/**
 * The status of a credential: `reauthorization_required` when access tokens answer 409 (the provider said
 * `invalid_grant`, or the deposited client secret has expired), `failing` after one or more upstream failures
 * in a row, `healthy` otherwise (including a credential never refreshed yet).
 */
export function credentialStatus(row: HealthFields, now = Date.now()): CredentialStatus {
  if (row.reauthorizationRequiredAt) return 'reauthorization_required';
  if (row.clientSecretExpiresAt && row.clientSecretExpiresAt.getTime() <= now)
    return 'reauthorization_required';
  return row.consecutiveFailures > 0 ? 'failing' : 'healthy';
}

/** The credential whose health changed: ids only, never a value. */
export interface HealthSubject {
  id: string;
  userId: string;
  mcpServerId: string;
}

/** What changed it, for the log and the event's data. */
export interface HealthChange {
  /**
   * A refresh's outcome (access-token route), a deposit that replaced the credential, or the deposited client
   * secret's expiry passing (found by the access-token route: time alone changed the status).
   */
  cause: 'refresh' | 'deposit' | 'client_secret_expired';
  /** Failures in a row after the change (0 once healthy). */
  consecutiveFailures: number;
  /** The failure that made it `failing` or `reauthorization_required`; absent on a recovery. */
  failureType?: CredentialFailureType;
  /** For a change that may be seen more than once (a client secret's expiry): announced once per key. */
  dedupKey?: string;
}

/**
 * The dedup key of the announcement that credential `id`'s client secret expired at `expiresAt`: one event
 * per credential and expiry, whoever notices it first (a deposit replacing it, or an access-token call).
 */
export function clientSecretExpiryKey(id: string, expiresAt: Date): string {
  return `credential.client_secret_expired:${id}:${expiresAt.getTime()}`;
}

/**
 * The one place a credential's status changes are announced: called in the transaction that wrote the
 * change (the refresh's, holding the row lock, or the deposit's), once per transition and never when the
 * status stays. `healthy → failing` is a refresh that failed, `failing → healthy` a recovery, anything →
 * `reauthorization_required` the provider's `invalid_grant`; a deposit resets any status to `healthy`.
 *
 * The events (`credential.refresh_failed|recovered|reauthorization_required`, API.md "Events") are written
 * here, with `m`, so they commit or roll back with the change. A deposit that resets the status is the user's
 * own act, not a recovery: it emits nothing.
 */
@Injectable()
export class CredentialHealth {
  private readonly logger = new Logger('CredentialHealth');

  constructor(private readonly events: EventsOutbox) {}

  async healthChanged(
    m: EntityManager,
    credential: HealthSubject,
    from: CredentialStatus,
    to: CredentialStatus,
    change: HealthChange,
  ): Promise<void> {
    if (from === to) return;
    const type =
      to === 'reauthorization_required'
        ? 'credential.reauthorization_required'
        : to === 'failing'
          ? 'credential.refresh_failed'
          : change.cause === 'refresh'
            ? 'credential.recovered'
            : undefined;
    const written =
      type === undefined
        ? 1
        : await this.events.emit(
            m,
            type,
            {
              credentialId: credential.id,
              userId: credential.userId,
              mcpServerId: credential.mcpServerId,
              consecutiveFailures: change.consecutiveFailures,
              failureType: change.failureType ?? null,
              ...(change.cause === 'client_secret_expired' ? { cause: change.cause } : {}),
            },
            change.dedupKey,
          );
    // Announced already (its dedup key): not a transition of its own.
    if (written === 0) return;
    this.logger.log(
      {
        userId: credential.userId,
        mcpServerId: credential.mcpServerId,
        from,
        to,
        cause: change.cause,
        consecutiveFailures: change.consecutiveFailures,
        ...(change.failureType === undefined ? {} : { failureType: change.failureType }),
      },
      'credential health changed',
    );
  }
}
