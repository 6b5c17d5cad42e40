import { Inject, Injectable } from '@nestjs/common';
import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { credentialsConfig, type CredentialsConfig } from 'src/credentials/credentials.config';
import type { UpstreamFailureReason } from 'src/credentials/credentials.errors';
import { HostResolver } from 'src/http/host-resolver';
import { TokenEndpointPolicy } from 'src/credentials/token-endpoint-policy';

/** How the client authenticates at the token endpoint (RFC 6749 §2.3.1, RFC 7591 §2). */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** A token response larger than this is abandoned: real ones are a few kilobytes. */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
const MAX_RESPONSE_HEADER_BYTES = 16 * 1024;
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
  | { kind: 'failed'; cause: FailureCause; reason: string; status?: number; oauthError?: string };

class RefusedAddressError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RefusedAddressError';
  }
}

class ExchangeAbortedError extends Error {
  constructor(
    readonly failure: 'timeout' | 'invalid_response',
    message: string,
  ) {
    super(message);
  }
}

interface RawResponse {
  status: number;
  body: Buffer;
}

/**
 * One refresh-token grant (RFC 6749 §6) against a stored token endpoint, with the stored client
 * authentication. The exchange is bounded: CREDENTIALS_REFRESH_TIMEOUT_MS for all of it, 64 KiB of answer,
 * no redirects, no connection reuse, no proxy. Every connection goes through the outbound policy's address
 * check on the address actually used (a custom `lookup` resolves, filters and pins).
 */
@Injectable()
export class TokenEndpointClient {
  constructor(
    @Inject(credentialsConfig.KEY) private readonly config: CredentialsConfig,
    private readonly policy: TokenEndpointPolicy,
    private readonly resolver: HostResolver,
  ) {}

  async refresh(request: RefreshRequest): Promise<RefreshOutcome> {
    const refusal = this.policy.refuseUrl(request.tokenEndpoint);
    if (refusal) return { kind: 'refused', reason: refusal };
    const { body, headers } = grantRequest(request);
    let response: RawResponse;
    try {
      response = await this.post(new URL(request.tokenEndpoint), headers, body);
    } catch (err) {
      if (err instanceof RefusedAddressError) return { kind: 'refused', reason: err.reason };
      if (err instanceof ExchangeAbortedError)
        return { kind: 'failed', cause: err.failure, reason: err.message };
      const code = (err as { code?: unknown }).code;
      return {
        kind: 'failed',
        cause: 'provider_unavailable',
        reason: `network error${typeof code === 'string' ? ` (${code})` : ''}`,
      };
    }
    return interpret(response);
  }

  private post(url: URL, headers: Record<string, string>, body: string): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const lib = url.protocol === 'https:' ? https : http;
      const req = lib.request(url, {
        method: 'POST',
        headers,
        // A fresh connection each time: a pooled socket would skip the address check of its lookup.
        agent: false,
        lookup: (hostname, options, callback) => this.lookup(hostname, options, callback),
        maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
      });
      const abort = (err: ExchangeAbortedError): void => {
        fail(err);
        req.destroy(err);
      };
      const timer = setTimeout(
        () =>
          abort(new ExchangeAbortedError('timeout', `no answer within ${this.config.refreshTimeoutMs} ms`)),
        this.config.refreshTimeoutMs,
      );
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const fail = (err: Error): void => settle(() => reject(err));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_TOKEN_RESPONSE_BYTES) {
            abort(
              new ExchangeAbortedError(
                'invalid_response',
                `answer larger than ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          settle(() => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) })),
        );
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end(body);
    });
  }

  /**
   * `lookup` for the connection: resolves the name, keeps the addresses the policy allows, and hands the
   * socket only those, so the address checked is the address connected to. (An IP literal never comes
   * here: `refuseUrl` checked it.)
   */
  private lookup(
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void {
    this.resolver.resolve(hostname).then(
      (resolved) => {
        const wanted =
          options.family === 4 || options.family === 6
            ? resolved.filter((a) => a.family === options.family)
            : resolved;
        const allowed = wanted.filter((a) => this.policy.refuseAddress(hostname, a.address) === undefined);
        const first = allowed[0];
        if (!first) {
          const reason =
            wanted[0] === undefined
              ? 'tokenEndpoint did not resolve to any address'
              : this.policy.refuseAddress(hostname, wanted[0].address)!;
          callback(new RefusedAddressError(reason), '', 0);
          return;
        }
        if (options.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  }
}

/** `application/x-www-form-urlencoded` of one value, as RFC 6749 §2.3.1 wants for Basic credentials. */
function formEncode(value: string): string {
  return new URLSearchParams([['v', value]]).toString().slice(2);
}

function grantRequest(request: RefreshRequest): { body: string; headers: Record<string, string> } {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: request.refreshToken });
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
  // RFC 8707 §2; the MCP authorization spec requires it on every token request.
  if (request.resource !== null) form.set('resource', request.resource);
  const body = form.toString();
  headers['content-length'] = String(Buffer.byteLength(body));
  return { body, headers };
}

const OAUTH_ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

function interpret(res: RawResponse): RefreshOutcome {
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
    oauthError,
  };
}

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
