import { GRACE_UNUSED_SLACK_SECONDS } from 'src/api-keys/grace';
import type { DataSource } from 'typeorm';
import type { ApiKeyRevocations } from 'src/api-keys/api-key-revocations';
import type { BillingProvidersService } from 'src/billing-providers/billing-providers.service';
import { DeveloperKeysService, toView } from 'src/api-keys/developer-keys.service';
import type { CreateApiKeyDto } from 'src/api-keys/dto/api-key.dto';
import type { ApiKey } from 'src/api-keys/api-key.entity';
import type { ApiKeysRepository } from 'src/api-keys/api-keys.repository';
import { CreateApiKeyDto as CreateApiKeyBody } from 'src/api-keys/dto/api-key.dto';
import { createValidationPipe } from 'src/validation/validation.pipe';
import type { ApiKeyConsumersRepository } from 'src/api-keys/api-key-consumers.repository';
import type { ProjectsService } from 'src/projects/projects.service';
import type { UsersService } from 'src/users/users.service';
import type { AuditService } from 'src/audit/audit.service';
import type { SessionPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';
import type { EventsOutbox } from 'src/events/events-outbox';

/**
 * The checks that must refuse a request before anything is read or written. Every collaborator throws if
 * touched, so a passing test also proves nothing was stored.
 */
describe('DeveloperKeysService.create: refusals before any storage', () => {
  const untouchable = <T extends object>(name: string): T =>
    new Proxy({} as T, {
      get: (_t, prop) => {
        throw new Error(`${name}.${String(prop)} must not be touched`);
      },
    });
  const service = new DeveloperKeysService(
    untouchable<DataSource>('dataSource'),
    untouchable<ApiKeysRepository>('keys'),
    untouchable<UsersService>('users'),
    untouchable<ProjectsService>('projects'),
    untouchable<BillingProvidersService>('providers'),
    untouchable<AuditService>('audit'),
    untouchable<ApiKeyRevocations>('revocations'),
    { orgId: undefined },
    {},
    untouchable<ApiKeyConsumersRepository>('consumers'),
    untouchable<EventsOutbox>('events'),
  );
  const principal: SessionPrincipal = { kind: 'session', sub: 'u1', actor: 'session:u1' };
  const ctx = { actor: 'session:u1', ip: null, requestId: null };

  const refusal = async (dto: CreateApiKeyDto): Promise<ApiError> => {
    const err = await service.create(principal, dto, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  };

  it('refuses rawApiKey without billingProviderId', async () => {
    const err = await refusal({ rawApiKey: 'pk_abcdefgh_0123456789abcdefghij' });
    expect(err.type).toBe('validation_failed');
    expect(err.message).not.toContain('pk_abcdefgh');
  });

  // The DTO refuses nulls; should one slip through, it must not turn a provider key into a keysmith one.
  it.each([
    [
      'a null billingProviderId with a rawApiKey',
      { billingProviderId: null, rawApiKey: 'opaque-0123456789abcdef01' },
    ],
    [
      'a null rawApiKey with a billingProviderId',
      { billingProviderId: '00000000-0000-4000-8000-000000000000', rawApiKey: null },
    ],
  ])('treats null as absent: refuses %s', async (_name, dto) => {
    expect((await refusal(dto as unknown as CreateApiKeyDto)).type).toBe('validation_failed');
  });

  it('refuses scopes on a provider-issued key (they never resolve here)', async () => {
    const err = await refusal({
      billingProviderId: '00000000-0000-4000-8000-000000000000',
      rawApiKey: 'opaque-0123456789abcdef01',
      scopes: ['billing:read'],
    });
    expect(err.type).toBe('validation_failed');
    expect(err.options.details).toEqual([{ field: 'scopes', messages: [expect.any(String)] }]);
  });

  it('refuses billingProviderId without rawApiKey', async () => {
    expect((await refusal({ billingProviderId: '00000000-0000-4000-8000-000000000000' })).type).toBe(
      'validation_failed',
    );
  });
});

describe('CreateApiKeyDto: expiries refused before the service runs', () => {
  const pipe = createValidationPipe();

  it.each([
    ['in the past', '2000-01-01T00:00:00Z'],
    ['now-ish', new Date(Date.now() - 1).toISOString()],
    ['without a time zone', '2099-01-01T00:00:00'],
  ])('refuses an expiry %s', async (_name, expiresAt) => {
    const err = (await pipe
      .transform({ expiresAt }, { type: 'body', metatype: CreateApiKeyBody, data: undefined })
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.type).toBe('validation_failed');
    expect(err.options.details).toEqual([{ field: 'expiresAt', messages: [expect.any(String)] }]);
  });
});

describe('toView', () => {
  const base = {
    id: 'k1',
    keyId: '0123456789abcdef',
    keyHash: 'h'.repeat(64),
    keyPrefix: 'ksk_01234567',
    label: null,
    origin: 'minted',
    userId: 'u1',
    projectId: 'p1',
    project: { id: 'p1', userId: 'u1', name: 'Default', isDefault: true, createdAt: new Date(0) },
    billingProviderId: null,
    billingProvider: null,
    allowedOrigins: [],
    scopes: [],
    adminOrgId: null,
    createdAt: new Date('2030-01-01T00:00:00Z'),
    lastUsedAt: null,
    lastUsedBy: null,
    revokedAt: null,
    revokedReason: null,
    disabledAt: null,
    expiresAt: null,
    predecessorId: null,
    successorId: null,
    rolledAt: null,
    graceEndsAt: null,
    graceUnusedSeconds: null,
  } satisfies ApiKey;

  it('never exposes the hash or the lookup id', () => {
    const view = toView(base);
    expect(JSON.stringify(view)).not.toContain(base.keyHash);
    expect(view).not.toHaveProperty('keyId');
    expect(view).not.toHaveProperty('keyHash');
  });

  it('reports REVOKED exactly when revokedAt is set', () => {
    expect(toView(base).status).toBe('ACTIVE');
    expect(toView({ ...base, revokedAt: new Date('2030-01-02T00:00:00Z') })).toMatchObject({
      status: 'REVOKED',
      revokedAt: '2030-01-02T00:00:00.000Z',
    });
  });

  it('names the state: REVOKED over EXPIRED over DISABLED over ACTIVE', () => {
    const past = new Date(Date.now() - 1000);
    const disabled = { ...base, disabledAt: new Date('2030-01-03T00:00:00Z') };
    expect(toView(disabled)).toMatchObject({ status: 'DISABLED', disabledAt: '2030-01-03T00:00:00.000Z' });
    expect(toView({ ...disabled, expiresAt: past }).status).toBe('EXPIRED');
    expect(toView({ ...disabled, expiresAt: past, revokedAt: past, revokedReason: 'user' })).toMatchObject({
      status: 'REVOKED',
      revokedReason: 'user',
    });
    expect(toView({ ...base, expiresAt: new Date(Date.now() + 60_000) }).status).toBe('ACTIVE');
  });

  describe('a rolled key', () => {
    const rolledAt = new Date(Date.now() - 3_600_000);
    const rolled = {
      ...base,
      successorId: 'k2',
      rolledAt,
      graceEndsAt: new Date(Date.now() + 3_600_000),
    };

    it('is ACTIVE in its grace, with its successor and grace end, and no revocation', () => {
      expect(toView(rolled)).toMatchObject({
        status: 'ACTIVE',
        successorId: 'k2',
        predecessorId: null,
        graceEndsAt: rolled.graceEndsAt.toISOString(),
        revokedAt: null,
        revokedReason: null,
      });
    });

    it('is REVOKED with reason rolled once the grace ended, revokedAt being that end', () => {
      const graceEndsAt = new Date(Date.now() - 1000);
      expect(toView({ ...rolled, graceEndsAt })).toMatchObject({
        status: 'REVOKED',
        revokedAt: graceEndsAt.toISOString(),
        revokedReason: 'rolled',
      });
    });

    it('ends an unused grace after its limit and the slack, counted from the roll or the last use', () => {
      const unused = { ...rolled, graceUnusedSeconds: 600 };
      // Rolled an hour ago, never used since: over 600 s + the slack.
      const view = toView(unused);
      expect(view.status).toBe('REVOKED');
      expect(view.revokedAt).toBe(
        new Date(rolledAt.getTime() + (600 + GRACE_UNUSED_SLACK_SECONDS) * 1000).toISOString(),
      );
      // Used 10 minutes ago: 600 s passed, but not the slack on top.
      expect(toView({ ...unused, lastUsedAt: new Date(Date.now() - 600_000) }).status).toBe('ACTIVE');
    });

    it('a revocation during the grace wins, with its own reason', () => {
      const revokedAt = new Date(Date.now() - 60_000);
      expect(toView({ ...rolled, revokedAt, revokedReason: 'user' })).toMatchObject({
        status: 'REVOKED',
        revokedAt: revokedAt.toISOString(),
        revokedReason: 'user',
      });
    });
  });
});
