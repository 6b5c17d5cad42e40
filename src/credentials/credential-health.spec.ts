import {
  CREDENTIAL_FAILURE_TYPES,
  CredentialHealth,
  credentialStatus,
} from 'src/credentials/credential-health';
import { UPSTREAM_FAILURE_REASONS } from 'src/credentials/credentials.errors';
import type { EntityManager } from 'typeorm';
import type { EventsOutbox } from 'src/events/events-outbox';

describe('credentialStatus', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const row = { reauthorizationRequiredAt: null, clientSecretExpiresAt: null, consecutiveFailures: 0 };

  it('healthy without failures, failing with any, reauthorization_required when marked or the secret expired', () => {
    expect(credentialStatus(row, now)).toBe('healthy');
    expect(credentialStatus({ ...row, consecutiveFailures: 1 }, now)).toBe('failing');
    expect(credentialStatus({ ...row, reauthorizationRequiredAt: new Date(now) }, now)).toBe(
      'reauthorization_required',
    );
    expect(
      credentialStatus({ ...row, consecutiveFailures: 5, clientSecretExpiresAt: new Date(now) }, now),
    ).toBe('reauthorization_required');
    expect(credentialStatus({ ...row, clientSecretExpiresAt: new Date(now + 1) }, now)).toBe('healthy');
  });

  it('records failures in the 502 vocabulary (but backing_off, which is no attempt) and invalid_grant', () => {
    expect([...CREDENTIAL_FAILURE_TYPES].sort()).toEqual(
      [...UPSTREAM_FAILURE_REASONS.filter((r) => r !== 'backing_off'), 'invalid_grant'].sort(),
    );
  });
});

describe('CredentialHealth.healthChanged', () => {
  const subject = { id: 'id', userId: 'user', mcpServerId: 'srv' };
  const m = {} as EntityManager;
  function build(): { health: CredentialHealth; emitted: [string, unknown][] } {
    const emitted: [string, unknown][] = [];
    const events = {
      emit: (_m: EntityManager, type: string, data: unknown) => {
        emitted.push([type, data]);
        return Promise.resolve(1);
      },
    } as unknown as EventsOutbox;
    return { health: new CredentialHealth(events), emitted };
  }

  it('says nothing when the status stays', async () => {
    const { health, emitted } = build();
    await health.healthChanged(m, subject, 'failing', 'failing', {
      cause: 'refresh',
      consecutiveFailures: 2,
    });
    expect(emitted).toEqual([]);
  });

  it('emits refresh_failed, recovered and reauthorization_required in the change transaction; a deposit is no recovery', async () => {
    const { health, emitted } = build();
    await health.healthChanged(m, subject, 'healthy', 'failing', {
      cause: 'refresh',
      consecutiveFailures: 1,
      failureType: 'timeout',
    });
    await health.healthChanged(m, subject, 'failing', 'healthy', {
      cause: 'refresh',
      consecutiveFailures: 0,
    });
    await health.healthChanged(m, subject, 'failing', 'reauthorization_required', {
      cause: 'refresh',
      consecutiveFailures: 2,
      failureType: 'invalid_grant',
    });
    await health.healthChanged(m, subject, 'reauthorization_required', 'healthy', {
      cause: 'deposit',
      consecutiveFailures: 0,
    });
    expect(emitted.map(([type]) => type)).toEqual([
      'credential.refresh_failed',
      'credential.recovered',
      'credential.reauthorization_required',
    ]);
    expect(emitted[0]![1]).toEqual({
      credentialId: 'id',
      userId: 'user',
      mcpServerId: 'srv',
      consecutiveFailures: 1,
      failureType: 'timeout',
    });
  });
});
