import { OAuthFailureReason } from 'src/oauth-sessions/oauth-sessions.errors';

/** The most of the provider's answer that is read; a bigger one is refused, whatever it holds. */
export const EXCHANGE_MAX_RESPONSE_BYTES = 64 * 1024;
/** A provider key longer than this is not a key. */
export const PROVIDER_KEY_MAX_LENGTH = 4096;
/** Visible ASCII only: a key goes into HTTP headers and UIs; whitespace or control characters mean garbage. */
const PROVIDER_KEY = /^[\x21-\x7e]+$/;

export type ExchangeResult =
  { ok: true; apiKey: string } | { ok: false; reason: OAuthFailureReason; httpStatus?: number };

/**
 * The token-callback protocol's exchange: `POST <apiBase>/v1/api-key` with `Authorization: Bearer <token>`,
 * answering `{"api_key": "..."}`. Bounded in time (the whole exchange, body included) and in size; redirects
 * are not followed (the token would travel to wherever they point). Never throws: every failure is a reason
 * code, and nothing the provider sent back is kept but the key.
 */
export async function exchangeProviderToken(
  apiBase: string,
  token: string,
  timeoutMs: number,
): Promise<ExchangeResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(`${apiBase}/v1/api-key`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      redirect: 'manual',
      signal: controller.signal,
    });
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: false, reason: OAuthFailureReason.ProviderRejected, httpStatus: res.status };
    }
    const body = await readBounded(res, EXCHANGE_MAX_RESPONSE_BYTES);
    const apiKey = body === undefined ? undefined : parseApiKey(body);
    return apiKey === undefined
      ? { ok: false, reason: OAuthFailureReason.ProviderInvalidResponse, httpStatus: res.status }
      : { ok: true, apiKey };
  } catch {
    return {
      ok: false,
      reason: controller.signal.aborted
        ? OAuthFailureReason.ProviderTimeout
        : OAuthFailureReason.ProviderUnreachable,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The body, or undefined when it is (or declares to be) bigger than `max` bytes; stops reading there. */
async function readBounded(res: Response, max: number): Promise<Buffer | undefined> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    return res.body ? undefined : Buffer.alloc(0);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop early cancels the stream: the rest of an oversized body is never read.
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) return undefined;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
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
