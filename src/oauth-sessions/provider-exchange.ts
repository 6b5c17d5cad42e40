import { assertUnreachable } from 'src/errors/assert-unreachable';
import { outboundRequest, type OutboundTarget } from 'src/http/outbound-request';
import { OAuthFailureReason } from 'src/oauth-sessions/oauth-sessions.errors';

/** The most of the provider's answer that is read; a bigger one is refused, whatever it holds. */
export const EXCHANGE_MAX_RESPONSE_BYTES = 64 * 1024;
/** A provider key longer than this is not a key. */
export const PROVIDER_KEY_MAX_LENGTH = 4096;
/** Visible ASCII only: a key goes into HTTP headers and UIs; whitespace or control characters mean garbage. */
const PROVIDER_KEY = /^[\x21-\x7e]+$/;

export type ExchangeResult =
  { ok: true; apiKey: string } | { ok: false; reason: OAuthFailureReason; httpStatus?: number };

const is2xx = (status: number): boolean => status >= 200 && status <= 299;

/**
 * The token-callback protocol's exchange: `POST <apiBase>/v1/api-key` with `Authorization: Bearer <token>`,
 * answering `{"api_key": "..."}`, sent by the one bounded outbound call (src/http/outbound-request.ts): one
 * deadline for connecting, the answer and its body, 64 KiB of answer, no redirects (the token would travel
 * to wherever they point), a connection of its own, and only to an address `outbound.refuse` allows (else
 * nothing is sent, the token included). The body of an answer other than 2xx is not read. Never throws:
 * every failure is a reason code, and nothing the provider sent is kept but the key.
 */
export async function exchangeProviderToken(
  apiBase: string,
  token: string,
  timeoutMs: number,
  outbound: OutboundTarget,
): Promise<ExchangeResult> {
  let url: URL;
  try {
    url = new URL(`${apiBase}/v1/api-key`);
  } catch {
    // A misconfigured apiBase.
    return { ok: false, reason: OAuthFailureReason.ProviderUnreachable };
  }
  const result = await outboundRequest(
    {
      url,
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-length': '0' },
      timeoutMs,
      maxBodyBytes: EXCHANGE_MAX_RESPONSE_BYTES,
      readBody: is2xx,
    },
    outbound,
  );
  switch (result.kind) {
    case 'answered': {
      if (!is2xx(result.status))
        return { ok: false, reason: OAuthFailureReason.ProviderRejected, httpStatus: result.status };
      const apiKey = parseApiKey(result.body);
      return apiKey === undefined
        ? { ok: false, reason: OAuthFailureReason.ProviderInvalidResponse, httpStatus: result.status }
        : { ok: true, apiKey };
    }
    case 'too_large':
      return { ok: false, reason: OAuthFailureReason.ProviderInvalidResponse, httpStatus: result.status };
    case 'refused':
      return { ok: false, reason: OAuthFailureReason.ProviderAddressRefused };
    case 'timeout':
      return { ok: false, reason: OAuthFailureReason.ProviderTimeout };
    case 'failed':
      // Unreachable, a body cut short, or a header Node refuses (the token is checked before).
      return { ok: false, reason: OAuthFailureReason.ProviderUnreachable };
    default:
      return assertUnreachable(result);
  }
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
