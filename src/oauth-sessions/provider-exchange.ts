import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HostResolver } from 'src/http/host-resolver';
import {
  OutboundAddressRefusedError,
  pinnedLookup,
  refuseLiteralHost,
  type AddressRefusal,
} from 'src/http/outbound-address';
import { OAuthFailureReason } from 'src/oauth-sessions/oauth-sessions.errors';

/** The most of the provider's answer that is read; a bigger one is refused, whatever it holds. */
export const EXCHANGE_MAX_RESPONSE_BYTES = 64 * 1024;
/** A provider key longer than this is not a key. */
export const PROVIDER_KEY_MAX_LENGTH = 4096;
/** Visible ASCII only: a key goes into HTTP headers and UIs; whitespace or control characters mean garbage. */
const PROVIDER_KEY = /^[\x21-\x7e]+$/;

/** Where the exchange may connect: the app's resolver and the outbound address rule (outbound-address.ts). */
export interface ExchangeOutbound {
  resolver: Pick<HostResolver, 'resolve'>;
  refuse: AddressRefusal;
}

export type ExchangeResult =
  { ok: true; apiKey: string } | { ok: false; reason: OAuthFailureReason; httpStatus?: number };

/**
 * The token-callback protocol's exchange: `POST <apiBase>/v1/api-key` with `Authorization: Bearer <token>`,
 * answering `{"api_key": "..."}`. Bounded in time (one deadline for connecting, the answer and its body) and
 * in size (reading stops past the bound). Redirects are not followed: the token would travel to wherever
 * they point. Each exchange has a connection of its own (no keep-alive pool): exchanges are rare, and a
 * pooled connection the provider has just closed would fail a request that cannot be retried, and a pooled
 * socket would skip the address check. The connection goes only to an address the outbound policy allows,
 * the one the check saw (a pinned lookup; an IP literal is checked before): otherwise nothing is sent, the
 * token included. Never throws: every failure is a reason code, and nothing the provider sent is kept but the
 * key.
 */
export function exchangeProviderToken(
  apiBase: string,
  token: string,
  timeoutMs: number,
  outbound: ExchangeOutbound,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let req: ReturnType<typeof httpRequest> | undefined;
    const finish = (result: ExchangeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      resolve(result);
    };
    const unreachable = (): void => finish({ ok: false, reason: OAuthFailureReason.ProviderUnreachable });
    const timer = setTimeout(
      () => finish({ ok: false, reason: OAuthFailureReason.ProviderTimeout }),
      timeoutMs,
    );

    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      const invalid = (): void =>
        finish({ ok: false, reason: OAuthFailureReason.ProviderInvalidResponse, httpStatus: status });
      if (status < 200 || status > 299) {
        finish({ ok: false, reason: OAuthFailureReason.ProviderRejected, httpStatus: status });
        return;
      }
      if (Number(res.headers['content-length']) > EXCHANGE_MAX_RESPONSE_BYTES) {
        invalid();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > EXCHANGE_MAX_RESPONSE_BYTES) invalid();
        else chunks.push(chunk);
      });
      res.on('end', () => {
        const apiKey = parseApiKey(Buffer.concat(chunks));
        if (apiKey === undefined) invalid();
        else finish({ ok: true, apiKey });
      });
      // A body cut short (the connection dropped mid-answer).
      res.on('error', unreachable);
      res.on('close', unreachable);
    };

    const refused = (): void => finish({ ok: false, reason: OAuthFailureReason.ProviderAddressRefused });
    try {
      const url = new URL(`${apiBase}/v1/api-key`);
      if (refuseLiteralHost(url, outbound.refuse) !== undefined) {
        refused();
        return;
      }
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      req = send(
        url,
        {
          method: 'POST',
          agent: false,
          lookup: pinnedLookup(outbound.resolver, outbound.refuse),
          headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-length': '0' },
        },
        onResponse,
      );
    } catch {
      // A URL or header Node refuses (the token is checked before, so this is a misconfigured apiBase).
      unreachable();
      return;
    }
    req.on('error', (err) => (err instanceof OutboundAddressRefusedError ? refused() : unreachable()));
    req.end();
  });
}

/** `api_key` of a JSON object, when it is a plausible key; undefined for anything else. */
export function parseApiKey(body: Buffer): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const key = (parsed as Record<string, unknown>).api_key;
  if (typeof key !== 'string' || key.length > PROVIDER_KEY_MAX_LENGTH || !PROVIDER_KEY.test(key))
    return undefined;
  return key;
}
