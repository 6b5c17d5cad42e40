import { Logger } from '@nestjs/common';
import { AdminAuthService } from 'src/auth/admin/admin-auth.service';
import type { AdminRouteScope, AdminScope } from 'src/auth/admin/admin-scopes';
import type { SessionPrincipal } from 'src/auth/principal';
import type { SessionAuthService } from 'src/auth/jwt/session-auth.service';
import { authConfig } from 'src/auth/auth.config';
import type { RequestFacts } from 'src/auth/request-facts';
import { appConfig } from 'src/config/app-config';
import { loadSlice } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { ApiError } from 'src/errors/api-error';

// The bootstrap tier warns on every use; these specs assert outcomes, so keep the console quiet.
beforeAll(() => Logger.overrideLogger(false));

const ADMIN_TOKEN = 'admin-token-value-for-unit-tests';
const JWT = 'aaa.bbb.ccc';
const ORG_TOKEN = 'kso_0123456789abcdefghijABCDEFGHIJ12ab3Cd4';
const API_KEY = `ksk_${'0'.repeat(16)}_${'1'.repeat(64)}`;

interface Fakes {
  sessions: { enabled: boolean; verify: jest.Mock<Promise<SessionPrincipal | null>, [string]> };
  tokens: {
    verify: jest.Mock<Promise<{ id: string; prefix: string; scopes: AdminScope[] } | null>, [string]>;
    bootstrapClosed: jest.Mock<Promise<boolean>, []>;
  };
  audit: { record: jest.Mock<Promise<void>, unknown[]> };
  apiKeys: {
    verify: jest.Mock<Promise<{ keyPrefix: string; user: { externalId: string } } | null>, [string]>;
  };
  identities: { isDisabled: jest.Mock<Promise<boolean>, [string]> };
}

function build(
  env: Env,
  overrides: Partial<{
    session: SessionPrincipal | null;
    anyToken: boolean;
    scopes: AdminScope[];
    disabled: string[];
  }> = {},
) {
  const fakes: Fakes = {
    sessions: {
      enabled: true,
      verify: jest.fn((c: string) =>
        Promise.resolve(
          c === JWT
            ? overrides.session === undefined
              ? { kind: 'session' as const, sub: 'alice', orgId: 'org-1', actor: 'session:alice' }
              : overrides.session
            : null,
        ),
      ),
    },
    tokens: {
      verify: jest.fn((c: string) =>
        Promise.resolve(
          c === ORG_TOKEN
            ? { id: 'id-1', prefix: c.slice(0, 12), scopes: overrides.scopes ?? ['admin'] }
            : null,
        ),
      ),
      bootstrapClosed: jest.fn(() => Promise.resolve(overrides.anyToken ?? true)),
    },
    audit: { record: jest.fn(() => Promise.resolve()) },
    apiKeys: {
      verify: jest.fn((c: string) =>
        Promise.resolve(c === API_KEY ? { keyPrefix: c.slice(0, 12), user: { externalId: 'owner' } } : null),
      ),
    },
    identities: {
      isDisabled: jest.fn((sub: string) => Promise.resolve((overrides.disabled ?? []).includes(sub))),
    },
  };
  const service = new AdminAuthService(
    loadSlice(authConfig, { NODE_ENV: 'test', ...env }),
    loadSlice(appConfig, { NODE_ENV: 'test', ...env }),
    fakes.sessions as unknown as SessionAuthService,
    fakes.audit,
    fakes.tokens,
    fakes.tokens,
    fakes.apiKeys,
    fakes.identities,
  );
  return { service, fakes };
}

/** whoami's scope: any admin credential. */
const ANY: AdminRouteScope = { declared: 'any', read: true };

const req = (credential?: string, method = 'GET'): RequestFacts => ({
  credential,
  method,
  path: '/api/v1/admin/whoami',
  ip: '127.0.0.1',
  peer: '127.0.0.1',
  forwarded: false,
  requestId: 'req-1',
  host: '127.0.0.1:3000',
  origin: undefined,
  fetchSite: undefined,
});

describe('AdminAuthService', () => {
  it('composes the tiers in API order', () => {
    const { service } = build({});
    expect(service.tiers.map((t) => t.tier)).toEqual([
      'bootstrap',
      'session',
      'org_token',
      'admin_token',
      'api_key',
    ]);
  });

  it('the first accepting tier wins and later tiers are not consulted', async () => {
    const { service, fakes } = build({ ADMIN_TOKEN });
    await expect(service.authenticate(req(JWT), ANY)).resolves.toEqual({
      kind: 'admin',
      tier: 'session',
      actor: 'session:alice',
      scopes: ['admin'],
    });
    expect(fakes.tokens.verify).not.toHaveBeenCalled();
  });

  it.each([
    [
      'an org token',
      ORG_TOKEN,
      {
        tier: 'org_token',
        actor: `org-token:${ORG_TOKEN.slice(0, 12)}`,
        scopes: ['admin'],
        orgTokenId: 'id-1',
      },
    ],
    ['ADMIN_TOKEN', ADMIN_TOKEN, { tier: 'admin_token', actor: 'admin-token', scopes: ['admin'] }],
  ])('accepts %s', async (_label, credential, expected) => {
    const { service } = build({ ADMIN_TOKEN });
    await expect(service.authenticate(req(credential), ANY)).resolves.toEqual({ kind: 'admin', ...expected });
  });

  it('requires ORG_ID membership of a session when ORG_ID is set', async () => {
    const member = build({ ADMIN_TOKEN, ORG_ID: 'org-1' });
    await expect(member.service.authenticate(req(JWT), ANY)).resolves.toMatchObject({ tier: 'session' });
    const outsider = build({ ADMIN_TOKEN, ORG_ID: 'org-2' });
    await expect(outsider.service.authenticate(req(JWT), ANY)).rejects.toEqual(ApiError.unauthorized());
  });

  it("refuses a disabled user's session with 403 identity_not_allowed, reads included (decision 0085)", async () => {
    const { service, fakes } = build({ ADMIN_TOKEN }, { disabled: ['alice'] });
    const write: AdminRouteScope = { declared: 'org-tokens:write', read: false };
    for (const [method, route] of [
      ['GET', ANY],
      ['POST', write],
    ] as const)
      await expect(service.authenticate(req(JWT, method), route)).rejects.toMatchObject({
        status: 403,
        type: 'identity_not_allowed',
      });
    expect(fakes.identities.isDisabled).toHaveBeenCalledWith('alice');
    // Another user's session passes; a session outside ORG_ID is the 401 without a look at its user.
    await expect(
      build({ ADMIN_TOKEN }, { disabled: ['bob'] }).service.authenticate(req(JWT), ANY),
    ).resolves.toMatchObject({ tier: 'session' });
    const outsider = build({ ADMIN_TOKEN, ORG_ID: 'org-2' }, { disabled: ['alice'] });
    await expect(outsider.service.authenticate(req(JWT), ANY)).rejects.toEqual(ApiError.unauthorized());
    expect(outsider.fakes.identities.isDisabled).not.toHaveBeenCalled();
  });

  it('does not verify a credential that is not shaped like a JWT as a session', async () => {
    const { service, fakes } = build({ ADMIN_TOKEN });
    await service.authenticate(req(ORG_TOKEN), ANY);
    expect(fakes.sessions.verify).not.toHaveBeenCalled();
  });

  it('bootstrap: open only before any token, without ADMIN_TOKEN and with the flag; writes audited', async () => {
    const open = build({}, { anyToken: false });
    await expect(open.service.authenticate(req(), ANY)).resolves.toEqual({
      kind: 'admin',
      tier: 'bootstrap',
      actor: 'bootstrap',
      scopes: ['admin'],
    });
    // A read leaves no audit row; a write does.
    expect(open.fakes.audit.record).not.toHaveBeenCalled();
    await expect(open.service.authenticate(req(undefined, 'POST'), ANY)).resolves.toMatchObject({
      tier: 'bootstrap',
    });
    expect(open.fakes.audit.record).toHaveBeenCalledTimes(1);
    expect(open.fakes.audit.record).toHaveBeenCalledWith(
      { actor: 'bootstrap', ip: '127.0.0.1', requestId: 'req-1' },
      expect.objectContaining({ action: 'admin.bootstrap_use', targetId: 'POST /api/v1/admin/whoami' }),
    );
    await expect(build({}, { anyToken: true }).service.authenticate(req(), ANY)).rejects.toEqual(
      ApiError.unauthorized(),
    );
    const withAdminToken = build({ ADMIN_TOKEN }, { anyToken: false });
    await expect(withAdminToken.service.authenticate(req(), ANY)).rejects.toEqual(ApiError.unauthorized());
    expect(withAdminToken.fakes.tokens.bootstrapClosed).not.toHaveBeenCalled();
    const flagOff = build({ ADMIN_BOOTSTRAP_OPEN: 'false' }, { anyToken: false });
    await expect(flagOff.service.authenticate(req(), ANY)).rejects.toEqual(ApiError.unauthorized());
  });

  it('API-key tier: only with the flag and without ADMIN_TOKEN', async () => {
    const on = build({ ADMIN_AUTH_ALLOW_API_KEYS: 'true' });
    await expect(on.service.authenticate(req(API_KEY), ANY)).resolves.toEqual({
      kind: 'admin',
      tier: 'api_key',
      actor: `api-key:${API_KEY.slice(0, 12)}`,
      scopes: ['admin'],
      mintsFor: 'session:owner',
    });
    const off = build({});
    await expect(off.service.authenticate(req(API_KEY), ANY)).rejects.toEqual(ApiError.unauthorized());
    const shadowed = build({ ADMIN_AUTH_ALLOW_API_KEYS: 'true', ADMIN_TOKEN });
    await expect(shadowed.service.authenticate(req(API_KEY), ANY)).rejects.toEqual(ApiError.unauthorized());
    expect(shadowed.fakes.apiKeys.verify).not.toHaveBeenCalled();
  });

  it('refuses with one error whatever failed', async () => {
    const { service } = build({ ADMIN_TOKEN });
    const errors = await Promise.all(
      [undefined, '', 'x', `${ADMIN_TOKEN}x`, JWT.replace('a', 'b'), ORG_TOKEN.slice(0, -1)].map((c) =>
        service.authenticate(req(c), ANY).catch((e: unknown) => e),
      ),
    );
    for (const e of errors) expect(e).toEqual(ApiError.unauthorized());
  });

  it('answers 403 forbidden when the credential is valid but its scopes do not open the route', async () => {
    const { service } = build({ ADMIN_TOKEN }, { scopes: ['admin:read'] });
    const write: AdminRouteScope = { declared: 'org-tokens:write', read: false };
    await expect(service.authenticate(req(ORG_TOKEN, 'POST'), write)).rejects.toEqual(
      ApiError.forbidden('The credential lacks the org-tokens:write scope.'),
    );
    await expect(
      service.authenticate(req(ORG_TOKEN), { declared: 'audit:read', read: true }),
    ).resolves.toMatchObject({ tier: 'org_token', scopes: ['admin:read'] });
    // A route that declares no scope needs `admin`, GET or not.
    await expect(service.authenticate(req(ORG_TOKEN), { declared: undefined, read: true })).rejects.toEqual(
      ApiError.forbidden('The credential lacks the admin scope.'),
    );
    // The other tiers hold `admin`.
    await expect(service.authenticate(req(ADMIN_TOKEN, 'POST'), write)).resolves.toMatchObject({
      tier: 'admin_token',
    });
    // A wrong credential is still the 401, never a 403 that would tell it apart.
    await expect(service.authenticate(req('x', 'POST'), write)).rejects.toEqual(ApiError.unauthorized());
  });
});
