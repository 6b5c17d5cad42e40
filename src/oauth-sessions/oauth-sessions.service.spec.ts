import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { EventsOutbox } from 'src/events/events-outbox';
import type { HostResolver } from 'src/http/host-resolver';
import type { DataSource, EntityManager } from 'typeorm';
import type { AuditService } from 'src/audit/audit.service';
import type { SessionPrincipal } from 'src/auth/principal';
import type { BillingProvider } from 'src/billing-providers/billing-provider.entity';
import type { BillingProvidersService } from 'src/billing-providers/billing-providers.service';
import type { AppConfig } from 'src/config/app-config';
import { DecryptionFailedError } from 'src/crypto/encryption/encryption.errors';
import type { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { ApiError } from 'src/errors/api-error';
import { OAUTH_SESSION_DEFAULTS } from 'src/oauth-sessions/oauth-sessions.config';
import type {
  ClaimedSession,
  OAuthSessionsRepository,
  SessionByState,
} from 'src/oauth-sessions/oauth-sessions.repository';
import { OAuthSessionsService } from 'src/oauth-sessions/oauth-sessions.service';
import { exchangeProviderToken } from 'src/oauth-sessions/provider-exchange';
import type { User } from 'src/users/user.entity';
import type { UsersService } from 'src/users/users.service';

jest.mock('src/oauth-sessions/provider-exchange', () => ({ exchangeProviderToken: jest.fn() }));
const exchange = jest.mocked(exchangeProviderToken);

beforeAll(() => Logger.overrideLogger(false));
afterEach(() => jest.clearAllMocks());

/** A collaborator that fails the test if touched: a passing test proves it was not. */
const untouchable = <T extends object>(name: string): T =>
  new Proxy({} as T, {
    get: (_t, prop) => {
      if (prop === 'then') return undefined;
      throw new Error(`${name}.${String(prop)} must not be touched`);
    },
  });

const STATE = 'A'.repeat(43);
const CODE = 'C'.repeat(43);
const principal: SessionPrincipal = { kind: 'session', sub: 'u1', actor: 'session:u1' };
const ctx = { actor: 'anonymous', ip: '127.0.0.1', requestId: 'req-1' };
const manager = {} as EntityManager;
const inTransaction = {
  transaction: (work: (m: EntityManager) => unknown) => work(manager),
} as unknown as DataSource;
const noAudit = { record: jest.fn(async () => undefined) } as unknown as AuditService;
const noEvents = { emit: jest.fn(async () => 1) } as unknown as EventsOutbox;

interface Parts {
  dataSource?: DataSource;
  sessions?: Partial<OAuthSessionsRepository>;
  users?: Partial<UsersService>;
  providers?: Partial<BillingProvidersService>;
  encryption?: Partial<EncryptionService>;
}

function service(parts: Parts): OAuthSessionsService {
  return new OAuthSessionsService(
    parts.dataSource ?? untouchable<DataSource>('dataSource'),
    OAUTH_SESSION_DEFAULTS,
    {
      oauthCallbackOrigin: 'https://keys.example.com',
      settingsUiOrigins: ['https://settings.example.com'],
    } as unknown as AppConfig,
    (parts.sessions as OAuthSessionsRepository) ?? untouchable<OAuthSessionsRepository>('sessions'),
    (parts.users as UsersService) ?? untouchable<UsersService>('users'),
    (parts.providers as BillingProvidersService) ?? untouchable<BillingProvidersService>('providers'),
    (parts.encryption as EncryptionService) ?? untouchable<EncryptionService>('encryption'),
    noAudit,
    {} as HostResolver,
    noEvents,
  );
}

const failure = async (promise: Promise<unknown>): Promise<ApiError> => {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
};

describe('OAuthSessionsService.start', () => {
  const acme = { id: 'p1', slug: 'acme', authUrl: 'https://acme.test/login' } as BillingProvider;

  it.each(['UPPER', 'bad slug', 'x'.repeat(64), ''])(
    'answers 404 for the slug %j without a query',
    async (slug) => {
      expect((await failure(service({}).start(principal, slug, ctx))).status).toBe(404);
    },
  );

  it('answers 404 for a provider that is unknown or disabled', async () => {
    const providers = { findEnabledBySlug: jest.fn(async () => null) };
    expect((await failure(service({ providers }).start(principal, 'acme', ctx))).status).toBe(404);
  });

  it('answers 503 without an encryption key, before creating the user or the session', async () => {
    const providers = { findEnabledBySlug: jest.fn(async () => acme) };
    const err = await failure(
      service({ providers, encryption: { available: false } }).start(principal, 'acme', ctx),
    );
    expect([err.status, err.type]).toEqual([503, 'encryption_key_missing']);
  });

  it('answers 403 identity_not_allowed for a disabled user, before storing a session', async () => {
    const providers = { findEnabledBySlug: jest.fn(async () => acme) };
    const users = {
      findOrCreateByExternalId: jest.fn(async () => ({ id: 'u', disabledAt: new Date() }) as User),
    };
    const err = await failure(
      service({ providers, users, encryption: { available: true } }).start(principal, 'acme', ctx),
    );
    expect([err.status, err.type]).toEqual([403, 'identity_not_allowed']);
  });

  it('stores the hash of the state it hands out, never the state', async () => {
    const insert = jest.fn(async () => ({ id: 's1', expiresAt: new Date('2030-01-01T00:00:00Z') }));
    const started = await service({
      dataSource: inTransaction,
      providers: { findEnabledBySlug: jest.fn(async () => acme) },
      users: { findOrCreateByExternalId: jest.fn(async () => ({ id: 'u', disabledAt: null }) as User) },
      encryption: { available: true },
      sessions: { insert },
    }).start(principal, 'acme', ctx);
    const state = new URL(started.authUrl).searchParams.get('state')!;
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [[row]] = insert.mock.calls as unknown as [[{ stateHash: string; ttlSeconds: number }]];
    expect(row.stateHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(insert.mock.calls)).not.toContain(state);
    expect(row.ttlSeconds).toBe(600);
    expect(started).toMatchObject({
      loginSessionId: 's1',
      expiresAt: '2030-01-01T00:00:00.000Z',
      pollIntervalSeconds: 2,
    });
  });
});

describe('OAuthSessionsService.callback', () => {
  it.each([
    ['no state', undefined],
    ['a short state', 'abc'],
    ['a state with other characters', `${'A'.repeat(42)}=`],
    ['several states', [STATE, STATE]],
    ['an object', { state: STATE }],
  ])('answers %s with the unknown-state page, touching nothing', async (_label, state) => {
    const page = await service({ encryption: { available: true } }).callback('acme', state, 'tok', ctx);
    expect(page.status).toBe(400);
    expect(page.html).toContain('not recognised');
  });

  it('claims nothing without an encryption key: 503, the link stays usable', async () => {
    const page = await service({ encryption: { available: false } }).callback('acme', STATE, 'tok', ctx);
    expect(page.status).toBe(503);
  });

  it('answers a database failure before the claim with the 503 page: nothing was used up', async () => {
    const sessions = {
      claim: jest.fn(async () => {
        throw new Error('connection terminated');
      }),
    };
    const page = await service({ sessions, encryption: { available: true } }).callback(
      'acme',
      STATE,
      'tok',
      ctx,
    );
    expect(page.status).toBe(503);
    expect(page.html).toContain('Nothing was used up');
    expect(exchange).not.toHaveBeenCalled();
  });

  describe('a state that claims nothing', () => {
    const byState = (row: Partial<SessionByState>): SessionByState => ({
      id: 's1',
      userId: 'u1',
      providerId: 'p1',
      status: 'pending',
      expired: false,
      providerSlug: 'acme',
      providerName: 'Acme',
      providerEnabled: true,
      userDisabled: false,
      ...row,
    });
    const run = async (row: SessionByState | undefined) => {
      const sessions = {
        claim: jest.fn(async () => undefined),
        findByState: jest.fn(async () => row),
        expire: jest.fn(async () => undefined),
        fail: jest.fn(async () => true),
      };
      const page = await service({
        dataSource: inTransaction,
        sessions,
        encryption: { available: true },
      }).callback('acme', STATE, 'tok', ctx);
      return { page, sessions };
    };

    it.each<[string, SessionByState | undefined, number, string]>([
      ['unknown', undefined, 400, 'not recognised'],
      ["another provider's", byState({ providerSlug: 'nova' }), 400, 'not recognised'],
      ['of a provider since disabled', byState({ providerEnabled: false }), 400, 'not recognised'],
      ['complete', byState({ status: 'complete' }), 400, 'already used'],
      ['redeemed', byState({ status: 'redeemed' }), 400, 'already used'],
      ['failed', byState({ status: 'failed' }), 400, 'already used'],
      ['being exchanged', byState({ status: 'exchanging' }), 400, 'already used'],
      ['expired', byState({ status: 'expired' }), 400, 'expired'],
    ])('answers a session %s', async (_label, row, status, text) => {
      const { page, sessions } = await run(row);
      expect(page.status).toBe(status);
      expect(page.html).toContain(text);
      expect(sessions.expire).not.toHaveBeenCalled();
      expect(sessions.fail).not.toHaveBeenCalled();
      expect(exchange).not.toHaveBeenCalled();
    });

    it.each(['pending', 'exchanging'] as const)(
      'marks a %s session past its expiry expired',
      async (status) => {
        const { page, sessions } = await run(byState({ status, expired: true }));
        expect(page.status).toBe(400);
        expect(page.html).toContain('expired');
        expect(sessions.expire).toHaveBeenCalledWith('s1');
      },
    );

    it('fails a pending session whose user was disabled: 403', async () => {
      const { page, sessions } = await run(byState({ userDisabled: true }));
      expect(page.status).toBe(403);
      expect(sessions.fail).toHaveBeenCalledWith('s1', ['pending'], 'identity_not_allowed', manager);
    });
  });

  describe('a claimed session', () => {
    const claimed: ClaimedSession = {
      id: 's1',
      userId: 'u1',
      providerId: 'p1',
      providerName: 'Acme',
      apiBase: 'https://api.acme.test',
    };
    const sessions = () => ({
      claim: jest.fn(async () => claimed),
      fail: jest.fn(async () => true),
      complete: jest.fn(async () => true),
      expire: jest.fn(async () => undefined),
    });

    it('fails it without a token, and never calls the provider', async () => {
      const repo = sessions();
      const page = await service({
        dataSource: inTransaction,
        sessions: repo,
        encryption: { available: true },
      }).callback('acme', STATE, undefined, ctx);
      expect(page.status).toBe(400);
      expect(repo.fail).toHaveBeenCalledWith('s1', ['exchanging'], 'missing_token', manager);
      expect(exchange).not.toHaveBeenCalled();
    });

    it('exchanges once with the configured timeout and stores the key encrypted under the row identity', async () => {
      exchange.mockResolvedValue({ ok: true, apiKey: 'pk_live_1' });
      const repo = sessions();
      const encrypt = jest.fn(() => ({ ciphertext: Buffer.from('sealed'), keyVersion: 3 }));
      const page = await service({
        dataSource: inTransaction,
        sessions: repo,
        encryption: { available: true, encrypt },
      }).callback('acme', STATE, 'tok', ctx);
      expect(page.status).toBe(200);
      expect(exchange).toHaveBeenCalledWith('https://api.acme.test', 'tok', 10_000, expect.any(Object));
      expect(encrypt).toHaveBeenCalledWith('pk_live_1', {
        table: 'oauth_sessions',
        column: 'provider_key',
        row: ['s1', 'u1'],
      });
      expect(repo.complete).toHaveBeenCalledWith(
        's1',
        { ciphertext: Buffer.from('sealed'), keyVersion: 3 },
        expect.stringMatching(/^[0-9a-f]{64}$/),
        manager,
      );
      // The page carries the code whose hash was stored, for the settings UI origin only.
      const message = /<script type="application\/json" id="keysmith-completion">(.*?)<\/script>/.exec(
        page.html,
      )?.[1];
      const parsed = JSON.parse(message ?? 'null') as { completionCode: string };
      expect(parsed).toEqual({
        type: 'keysmith:provider-linked',
        loginSessionId: 's1',
        completionCode: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      });
      const storedHash = (repo.complete.mock.calls[0] as unknown[])[2];
      expect(createHash('sha256').update(parsed.completionCode).digest('hex')).toBe(storedHash);
      expect(page.html).toContain('["https://settings.example.com"]');
    });

    it('answers a session that expired during the exchange as expired, and keeps no key', async () => {
      exchange.mockResolvedValue({ ok: true, apiKey: 'pk_live_1' });
      const repo = { ...sessions(), complete: jest.fn(async () => false) };
      const page = await service({
        dataSource: inTransaction,
        sessions: repo,
        encryption: { available: true, encrypt: () => ({ ciphertext: Buffer.from('x'), keyVersion: 1 }) },
      }).callback('acme', STATE, 'tok', ctx);
      expect(page.status).toBe(400);
      expect(page.html).toContain('expired');
      expect(repo.expire).toHaveBeenCalledWith('s1');
    });

    it('fails it on an unexpected error after the claim: 500, never left exchanging', async () => {
      exchange.mockResolvedValue({ ok: true, apiKey: 'pk_live_1' });
      const repo = sessions();
      const encrypt = () => {
        throw new Error('boom');
      };
      const page = await service({
        dataSource: inTransaction,
        sessions: repo,
        encryption: { available: true, encrypt },
      }).callback('acme', STATE, 'tok', ctx);
      expect(page.status).toBe(500);
      expect(repo.fail).toHaveBeenCalledWith('s1', ['exchanging'], 'internal_error');
    });
  });
});

describe('OAuthSessionsService.result', () => {
  const users = { findOrCreateByExternalId: jest.fn(async () => ({ id: 'u1', disabledAt: null }) as User) };
  const owned = {
    id: 's1',
    status: 'complete' as const,
    failureReason: null,
    expired: false,
    providerId: 'p1',
  };

  it('answers 404 for a session that is not the caller’s', async () => {
    const sessions = { findOwned: jest.fn(async () => undefined) };
    expect(
      (await failure(service({ users, sessions }).result(principal, 'acme', 's1', CODE, ctx))).status,
    ).toBe(404);
    expect(sessions.findOwned).toHaveBeenCalledWith('s1', 'u1', 'acme');
  });

  it('answers 503 without a key before touching the stored one', async () => {
    const sessions = { findOwned: jest.fn(async () => owned) };
    const err = await failure(
      service({ users, sessions, encryption: { available: false } }).result(
        principal,
        'acme',
        's1',
        CODE,
        ctx,
      ),
    );
    expect(err.type).toBe('encryption_key_missing');
  });

  it('answers awaiting_confirmation without a code, touching nothing else', async () => {
    const sessions = { findOwned: jest.fn(async () => owned) };
    await expect(
      service({ users, sessions }).result(principal, 'acme', 's1', undefined, ctx),
    ).resolves.toEqual({ status: 'awaiting_confirmation' });
  });

  it('leaves the session and its key alone when the key cannot be decrypted here: 503, nothing failed', async () => {
    const sessions = {
      findOwned: jest.fn(async () => owned),
      lockOwned: jest.fn(async () => ({
        id: 's1',
        status: 'complete' as const,
        expired: false,
        completionCodeHash: createHash('sha256').update(CODE).digest('hex'),
        providerKey: Buffer.from('written-under-another-secret'),
        encKeyVersion: 1,
      })),
      redeem: jest.fn(async () => true),
      fail: jest.fn(async () => true),
    };
    const decrypt = () => {
      throw new DecryptionFailedError('oauth_sessions.provider_key');
    };
    const err = await failure(
      service({
        dataSource: inTransaction,
        users,
        sessions,
        encryption: { available: true, decrypt },
      }).result(principal, 'acme', 's1', CODE, ctx),
    );
    expect(err.type).toBe('encryption_key_missing');
    expect(sessions.redeem).not.toHaveBeenCalled();
    expect(sessions.fail).not.toHaveBeenCalled();
  });

  it('reports a failed session with its reason', async () => {
    const sessions = {
      findOwned: jest.fn(async () => ({
        ...owned,
        status: 'failed' as const,
        failureReason: 'provider_timeout',
      })),
    };
    await expect(service({ users, sessions }).result(principal, 'acme', 's1', CODE, ctx)).resolves.toEqual({
      status: 'failed',
      reason: 'provider_timeout',
    });
  });
});
