import { Inject, Injectable } from '@nestjs/common';
import { credentialsConfig, type CredentialsConfig } from 'src/credentials/credentials.config';
import type { UpstreamFailureReason } from 'src/credentials/credentials.errors';
import { TokenEndpointPolicy } from 'src/credentials/token-endpoint-policy';
import { assertUnreachable } from 'src/errors/assert-unreachable';
import { HostResolver } from 'src/http/host-resolver';
import { outboundRequest, type OutboundTarget } from 'src/http/outbound-request';

/** How the client authenticates at the token endpoint (RFC 6749 §2.3.1, RFC 7591 §2). */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** A token response larger than this is abandoned: real ones are a few kilobytes. */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Longest `token_type` kept (RFC 6749 types are short words: Bearer, DPoP, N_A). */
export const MAX_TOKEN_TYPE_LENGTH = 64;

export interface RefreshRequest {
  tokenEndpoint: string;
  refreshToken: string;
  clientId: string | null;
  clientSecret: string | null;
  authMethod: AuthMethod;
  /** The resource indicator (RFC 8707) sent as `resource`, when the credential has one. */
  resource: string | null;
}

/** Why a refresh failed, as the caller is told it (`host_refused` and `backing_off` are decided elsewhere). */
export type FailureCause = Exclude<UpstreamFailureReason, 'host_refused' | 'backing_off'>;

/** What the token endpoint made of a refresh-token grant. No variant carries a secret except `issued`. */
export type RefreshOutcome =
  | {
      kind: 'issued';
      accessToken: string;
      tokenType: string;
      /** `expires_in`, when the server gave a usable one. */
      expiresInSeconds: number | null;
      scope: string | null;
      /** A rotated refresh token, when the server returned one (RFC 6749 §6). */
      refreshToken: string | null;
    }
  /** The refresh token (or the grant behind it) is no longer valid: the user must authorize again. */
  | { kind: 'invalid_grant' }
  /** The outbound policy refused the endpoint or every address it resolved to; nothing was sent. */
  | { kind: 'refused'; reason: string }
  /**
   * Anything else: network error, timeout, 5xx, a redirect, an unusable answer. Nothing is known of the
   * grant. `reason` is for the log; `cause` is what the caller is told.
   */
  | {
      kind: 'failed';
      cause: FailureCause;
      reason: string;
      status?: number;
      /** The answer's OAuth `error` when it is a registered code, `unregistered` for any other. */
      oauthError?: string;
    };

/**
 * One refresh-token grant (RFC 6749 §6) against a stored token endpoint, with the stored client
 * authentication, sent by the one bounded outbound call (src/http/outbound-request.ts):
 * CREDENTIALS_REFRESH_TIMEOUT_MS for all of it, 16 KiB of head and 64 KiB of body, no redirects, no
 * connection reuse, no proxy, and only to an address the token endpoint policy allows, the one it checked.
 * This client says what to send and what the answer means.
 */
@Injectable()
export class TokenEndpointClient {
  private readonly outbound: OutboundTarget;

  constructor(
    @Inject(credentialsConfig.KEY) private readonly config: CredentialsConfig,
    private readonly policy: TokenEndpointPolicy,
    resolver: HostResolver,
  ) {
    this.outbound = { resolver, refuse: policy.refuseAddress };
  }

  async refresh(request: RefreshRequest): Promise<RefreshOutcome> {
    const refusal = this.policy.refuseUrl(request.tokenEndpoint);
    if (refusal) return { kind: 'refused', reason: refusal };
    const { body, headers } = grantRequest(request);
    const result = await outboundRequest(
      {
        url: new URL(request.tokenEndpoint),
        method: 'POST',
        headers,
        body,
        timeoutMs: this.config.refreshTimeoutMs,
        maxBodyBytes: MAX_TOKEN_RESPONSE_BYTES,
      },
      this.outbound,
    );
    switch (result.kind) {
      case 'answered':
        return interpret(result);
      case 'refused':
        return { kind: 'refused', reason: result.reason };
      case 'timeout':
        return {
          kind: 'failed',
          cause: 'timeout',
          reason: `no answer within ${this.config.refreshTimeoutMs} ms`,
        };
      case 'too_large':
        return {
          kind: 'failed',
          cause: 'invalid_response',
          reason: `answer larger than ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
        };
      case 'failed':
        return {
          kind: 'failed',
          cause: 'provider_unavailable',
          reason: `network error${result.code === undefined ? '' : ` (${result.code})`}`,
        };
      default:
        return assertUnreachable(result);
    }
  }

  /**
   * Revokes a refresh token at the server's revocation endpoint (RFC 7009 §2.1), with the stored client
   * authentication and the same bounded outbound call and policy as a refresh. True when the server answered
   * 2xx (it also answers 200 for a token it no longer knows, §2.2); false on anything else: a refusal by the
   * policy, a timeout, a network error, any other status. Never throws.
   */
  async revoke(request: RevocationRequest): Promise<boolean> {
    if (this.policy.refuseUrl(request.revocationEndpoint, 'revocationEndpoint')) return false;
    const form = new URLSearchParams({ token: request.refreshToken, token_type_hint: 'refresh_token' });
    const headers = clientAuthentication(request, form);
    const body = form.toString();
    headers['content-length'] = String(Buffer.byteLength(body));
    const result = await outboundRequest(
      {
        url: new URL(request.revocationEndpoint),
        method: 'POST',
        headers,
        body,
        timeoutMs: this.config.refreshTimeoutMs,
        maxBodyBytes: MAX_REVOCATION_RESPONSE_BYTES,
        readBody: () => false,
      },
      this.outbound,
    );
    return result.kind === 'answered' && result.status >= 200 && result.status < 300;
  }
}

/** What a revocation (RFC 7009) of a refresh token sends: the token, and the client authentication. */
export type RevocationRequest = Omit<RefreshRequest, 'tokenEndpoint' | 'resource'> & {
  revocationEndpoint: string;
};

/** A revocation answer's body is never read past this: RFC 7009 answers carry nothing we use. */
const MAX_REVOCATION_RESPONSE_BYTES = 4 * 1024;

/** `application/x-www-form-urlencoded` of one value, as RFC 6749 §2.3.1 wants for Basic credentials. */
function formEncode(value: string): string {
  return new URLSearchParams([['v', value]]).toString().slice(2);
}

function grantRequest(request: RefreshRequest): { body: string; headers: Record<string, string> } {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: request.refreshToken });
  const headers = clientAuthentication(request, form);
  // RFC 8707 §2; the MCP authorization spec requires it on every token request.
  if (request.resource !== null) form.set('resource', request.resource);
  const body = form.toString();
  headers['content-length'] = String(Buffer.byteLength(body));
  return { body, headers };
}

/**
 * The headers of a request to the authorization server, with the client's authentication (RFC 6749 §2.3.1)
 * added to them or to `form`: the same for a refresh and a revocation (RFC 7009 §2.1).
 */
function clientAuthentication(
  request: Pick<RefreshRequest, 'clientId' | 'clientSecret' | 'authMethod'>,
  form: URLSearchParams,
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    'user-agent': 'keysmith',
  };
  const { clientId, clientSecret } = request;
  switch (request.authMethod) {
    case 'client_secret_basic':
      headers.authorization = `Basic ${Buffer.from(
        `${formEncode(clientId ?? '')}:${formEncode(clientSecret ?? '')}`,
        'utf8',
      ).toString('base64')}`;
      break;
    case 'client_secret_post':
      form.set('client_id', clientId ?? '');
      form.set('client_secret', clientSecret ?? '');
      break;
    case 'none':
      // A public client identifies itself in the body (RFC 6749 §3.2.1).
      if (clientId !== null) form.set('client_id', clientId);
      break;
  }
  return headers;
}

const OAUTH_ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

function interpret(res: { status: number; body: Buffer }): RefreshOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const json =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  const { status } = res;
  if (status >= 300 && status < 400)
    return {
      kind: 'failed',
      cause: 'invalid_response',
      reason: 'the token endpoint redirected (redirects are not followed)',
      status,
    };
  if (status >= 200 && status < 300) {
    const accessToken = json.access_token;
    const tokenType = json.token_type;
    if (
      typeof accessToken !== 'string' ||
      accessToken === '' ||
      typeof tokenType !== 'string' ||
      tokenType === '' ||
      tokenType.length > MAX_TOKEN_TYPE_LENGTH
    )
      return {
        kind: 'failed',
        cause: 'invalid_response',
        reason: 'the token response lacks access_token or token_type',
        status,
      };
    return {
      kind: 'issued',
      accessToken,
      tokenType,
      expiresInSeconds: expiresIn(json.expires_in),
      scope: typeof json.scope === 'string' && json.scope !== '' ? json.scope : null,
      refreshToken:
        typeof json.refresh_token === 'string' && json.refresh_token !== '' ? json.refresh_token : null,
    };
  }
  const oauthError =
    typeof json.error === 'string' && OAUTH_ERROR_CODE.test(json.error) ? json.error : undefined;
  if (status >= 400 && status < 500 && oauthError === 'invalid_grant') return { kind: 'invalid_grant' };
  return {
    kind: 'failed',
    cause: failureCause(status, oauthError),
    reason: `the token endpoint answered ${status}`,
    status,
    // Logged: only a registered code, since a server may put anything in `error`.
    oauthError: oauthError === undefined || KNOWN_OAUTH_ERRORS.has(oauthError) ? oauthError : 'unregistered',
  };
}

/**
 * The token endpoint's registered error codes (RFC 6749 §5.2 and §4.1.2.1, RFC 8707 §2, RFC 9449 §5): the only
 * `error` values a log line repeats.
 */
const KNOWN_OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'invalid_target',
  'invalid_dpop_proof',
  'use_dpop_nonce',
]);

const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

function failureCause(status: number, oauthError: string | undefined): FailureCause {
  if (status === 401 || status === 403 || (oauthError !== undefined && CLIENT_ERRORS.has(oauthError)))
    return 'client_rejected';
  if (status === 429 || status >= 500) return 'provider_unavailable';
  if (status >= 400) return 'request_rejected';
  // 1xx never reaches here; anything else (a 2xx/3xx was handled above) is not a token response.
  return 'invalid_response';
}

/** Ten years: anything longer is not an access token's lifetime, and would overflow nothing useful. */
const MAX_EXPIRES_IN = 10 * 365 * 24 * 3600;

function expiresIn(value: unknown): number | null {
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= MAX_EXPIRES_IN ? n : null;
}
