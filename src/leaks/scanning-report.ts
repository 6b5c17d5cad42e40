import { verify, type KeyObject } from 'node:crypto';
import { ApiError } from 'src/errors/api-error';
import { MAX_JSON_DEPTH, nestsDeeperThan, TOO_DEEP_MESSAGE } from 'src/http/body-parsing';
import { LeaksErrorCode, leaksError } from 'src/leaks/leaks.errors';
import { MAX_KEY_IDENTIFIER_LENGTH } from 'src/leaks/scanner-key-set';
import { redactSecrets } from 'src/leaks/secret-formats';

/** The protocol's headers (GitHub's secret scanning partner program). */
export const KEY_IDENTIFIER_HEADER = 'github-public-key-identifier';
export const SIGNATURE_HEADER = 'github-public-key-signature';

/** A DER ECDSA P-256 signature is at most 72 bytes: 96 base64 characters. Longer is refused unread. */
const MAX_SIGNATURE_LENGTH = 128;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The two headers of a report, when both are there and plausible; null otherwise (a 401, no lookup). */
export function signatureHeaders(
  headers: Record<string, string | string[] | undefined>,
): { keyIdentifier: string; signature: Buffer } | null {
  const keyIdentifier = headers[KEY_IDENTIFIER_HEADER];
  const signature = headers[SIGNATURE_HEADER];
  if (typeof keyIdentifier !== 'string' || typeof signature !== 'string') return null;
  if (keyIdentifier === '' || keyIdentifier.length > MAX_KEY_IDENTIFIER_LENGTH) return null;
  if (signature.length > MAX_SIGNATURE_LENGTH || signature.length % 4 !== 0 || !BASE64.test(signature))
    return null;
  return { keyIdentifier, signature: Buffer.from(signature, 'base64') };
}

/** Whether `signature` (DER, as GitHub sends it) is `key`'s ECDSA P-256 / SHA-256 signature of `body`. */
export function signatureHolds(body: Buffer, signature: Buffer, key: KeyObject): boolean {
  try {
    return verify('sha256', body, { key, dsaEncoding: 'der' }, signature);
  } catch {
    // A signature that is not DER at all.
    return false;
  }
}

/**
 * One match of a report, as GitHub sends it. Only `token` is needed; the rest is kept for the audit row, with
 * every secret cut out (keptText).
 */
export interface ReportedMatch {
  token: string;
  type: string | null;
  url: string | null;
  source: string | null;
}

/** Free text of a match kept for the audit trail is cut to this many characters. */
export const MAX_KEPT_TEXT = 2048;

/**
 * A string field of a match as kept for the audit trail: the reported token and every string of a keysmith
 * secret's shape cut out of the whole text first, then cut to MAX_KEPT_TEXT (in that order: cut first, a
 * secret straddling the cut would leave a fragment behind). Null when absent, empty or not a string.
 */
const keptText = (value: unknown, token: string): string | null =>
  typeof value === 'string' && value !== '' ? redactSecrets(value, [token]).slice(0, MAX_KEPT_TEXT) : null;

const malformed = (message: string): ApiError => leaksError(LeaksErrorCode.MalformedReport, { message });

/**
 * The matches of a verified report body: a JSON array (UTF-8) of objects, each with a string `token`. `type`,
 * `url` and `source` are read when they are strings and otherwise left out, and fields GitHub may add later
 * are ignored: the signature already says who sent it, and refusing a report over a new field would leave the
 * leaked keys in it live. Anything else is a 400 whose message never quotes the body (it holds secrets), and
 * so is a body nested deeper than every other JSON body may be.
 */
export function parseReport(body: Buffer): ReportedMatch[] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
  } catch {
    throw malformed('the body is not UTF-8.');
  }
  // The rule every JSON body has (src/http/body-parsing.ts), applied once the signature let the bytes in.
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw ApiError.validation(TOO_DEEP_MESSAGE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed('the body is not JSON.');
  }
  if (!Array.isArray(parsed)) throw malformed('the body is not a JSON array.');
  return parsed.map((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw malformed(`entry ${i} is not an object.`);
    const { token, type, url, source } = entry as Record<string, unknown>;
    if (typeof token !== 'string') throw malformed(`entry ${i} has no string "token".`);
    return {
      token,
      type: keptText(type, token),
      url: keptText(url, token),
      source: keptText(source, token),
    };
  });
}
