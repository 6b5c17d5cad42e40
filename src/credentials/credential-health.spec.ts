import {
  CREDENTIAL_FAILURE_TYPES,
  CredentialHealth,
  credentialStatus,
} from 'src/credentials/credential-health';
import { UPSTREAM_FAILURE_REASONS } from 'src/credentials/credentials.errors';
import type { EntityManager } from 'typeorm';

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
  it('says nothing when the status stays, and never throws', async () => {
    const health = new CredentialHealth();
    const m = {} as EntityManager;
    const subject = { id: 'id', userId: 'user', mcpServerId: 'srv' };
    await expect(
      health.healthChanged(m, subject, 'failing', 'failing', { cause: 'refresh', consecutiveFailures: 2 }),
    ).resolves.toBeUndefined();
    await expect(
      health.healthChanged(m, subject, 'healthy', 'failing', {
        cause: 'refresh',
        consecutiveFailures: 1,
        failureType: 'timeout',
      }),
    ).resolves.toBeUndefined();
  });
});
