import type { AuditService } from 'src/audit/audit.service';
import {
  CredentialsOffboarding,
  UPSTREAM_REVOCATION_CONCURRENCY,
  type TakenCredential,
} from 'src/credentials/credentials-offboarding';
import type { McpOAuthCredentialsRepository } from 'src/credentials/mcp-oauth-credentials.repository';
import type { RevocationRequest } from 'src/credentials/token-endpoint-client';
import type { UpstreamRevocation } from 'src/credentials/upstream-revocation';

const TIMEOUT_MS = 1000;
const ctx = { actor: 'admin-token', ip: null, requestId: null };

const taken = (i: number, endpoint: boolean): TakenCredential => ({
  id: `c${i}`,
  mcpServerId: `server-${i}`,
  undecryptable: false,
  revocation: endpoint
    ? {
        revocationEndpoint: `https://auth.example.com/revoke/${i}`,
        refreshToken: `rt-${i}`,
        clientId: null,
        clientSecret: null,
        authMethod: 'none',
      }
    : null,
});

describe('CredentialsOffboarding.revokeUpstream', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** An upstream whose every revocation answers `true` after exactly one timeout (a slow provider). */
  function slowUpstream(): { upstream: UpstreamRevocation; sent: string[]; inFlight: () => number } {
    const sent: string[] = [];
    let inFlight = 0;
    let peak = 0;
    const upstream = {
      revoke: (request: RevocationRequest | null | 'undecryptable') => {
        if (request === null) return Promise.resolve(null);
        if (request === 'undecryptable') return Promise.resolve(false);
        sent.push(request.refreshToken);
        inFlight++;
        peak = Math.max(peak, inFlight);
        return new Promise<boolean>((resolve) =>
          setTimeout(() => {
            inFlight--;
            resolve(true);
          }, TIMEOUT_MS),
        );
      },
    } as unknown as UpstreamRevocation;
    return { upstream, sent, inFlight: () => peak };
  }

  it('runs at most the cap at once, starts none after one timeout, and reports null without an endpoint', async () => {
    const { upstream, sent, inFlight } = slowUpstream();
    const audit = { record: jest.fn(async () => undefined) } as unknown as AuditService;
    const offboarding = new CredentialsOffboarding({} as McpOAuthCredentialsRepository, upstream, audit, {
      refreshTimeoutMs: TIMEOUT_MS,
    });
    const credentials = [
      ...Array.from({ length: UPSTREAM_REVOCATION_CONCURRENCY + 2 }, (_, i) => taken(i, true)),
      taken(99, false),
    ];
    const done = offboarding.revokeUpstream(credentials, ctx);
    await jest.advanceTimersByTimeAsync(TIMEOUT_MS);
    const outcomes = await done;
    expect(inFlight()).toBe(UPSTREAM_REVOCATION_CONCURRENCY);
    expect(sent).toHaveLength(UPSTREAM_REVOCATION_CONCURRENCY);
    expect([...outcomes.values()].filter((v) => v === true)).toHaveLength(UPSTREAM_REVOCATION_CONCURRENCY);
    expect([...outcomes.values()].filter((v) => v === false)).toHaveLength(2);
    expect(outcomes.get('c99')).toBeNull();
    expect(audit.record).toHaveBeenCalledTimes(UPSTREAM_REVOCATION_CONCURRENCY + 2);
  });
});
