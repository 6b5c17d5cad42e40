import { hashApiKey, parseApiKey } from 'src/api-keys/api-key-format';
import { hashOrgToken, isWellFormedOrgToken } from 'src/org-tokens/org-token-format';

/**
 * keysmith's secret formats as scanners see them: the type names registered with GitHub's secret scanning
 * partner program, and the regular expressions published in docs/secret-formats.md and docs/gitleaks.toml
 * (a unit test holds the three to the code that mints the secrets). The expressions find candidates in text;
 * the checksum (CRC32 of everything before it, in 6 base62 characters) is what tells a real secret from a
 * look-alike, offline, before any lookup.
 */
export const SECRET_TYPES = {
  apiKey: 'keysmith_api_key',
  orgToken: 'keysmith_org_token',
} as const;

/** `ksk_<keyId: 16 lowercase hex>_<secret: 64 lowercase hex>_<checksum: 6 base62>`, bounded on both sides. */
export const API_KEY_SCAN_PATTERN = '\\bksk_[0-9a-f]{16}_[0-9a-f]{64}_[0-9A-Za-z]{6}\\b';
/** `kso_` + 32 base62 random characters + 6 base62 characters of checksum, bounded on both sides. */
export const ORG_TOKEN_SCAN_PATTERN = '\\bkso_[0-9A-Za-z]{38}\\b';

/** What stands in for a secret cut out of text kept for the audit trail. */
export const REDACTED = '[secret]';

/**
 * Every string of a published shape (the expressions above and the legacy API key's, without the word
 * boundaries: a secret glued to other characters is still cut out), whatever its checksum. Checksummed API
 * keys first, so a legacy-shaped match never leaves a checksum behind.
 */
const SECRET_SHAPES = new RegExp(
  [
    'ksk_[0-9a-f]{16}_[0-9a-f]{64}_[0-9A-Za-z]{6}',
    'ksk_[0-9a-f]{16}_[0-9a-f]{64}',
    'kso_[0-9A-Za-z]{38}',
  ].join('|'),
  'g',
);

/**
 * `text` with every occurrence of `known` (the reported strings, whatever their shape) and of every published
 * secret shape replaced by REDACTED. Run it on the whole text before cutting it to length: cut first, a secret
 * straddling the cut would leave a fragment no pattern matches any more.
 */
export function redactSecrets(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const secret of known) if (secret !== '') out = out.split(secret).join(REDACTED);
  return out.replace(SECRET_SHAPES, REDACTED);
}

/** A reported string recognised offline (shape and checksum): what to look up, never the string itself. */
export type RecognisedSecret =
  { kind: 'api_key'; keyId: string; hash: string } | { kind: 'org_token'; hash: string };

/**
 * What `candidate` is, judged offline: a well-formed API key (checksummed, or of the legacy shape minted before
 * the checksum, which stays valid), a well-formed org token, or neither (null: no lookup is due).
 */
export function recogniseSecret(candidate: string): RecognisedSecret | null {
  const apiKey = parseApiKey(candidate);
  if (apiKey) return { kind: 'api_key', keyId: apiKey.keyId, hash: hashApiKey(candidate) };
  if (isWellFormedOrgToken(candidate)) return { kind: 'org_token', hash: hashOrgToken(candidate) };
  return null;
}
