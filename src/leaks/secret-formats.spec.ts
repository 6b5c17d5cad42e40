import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { checksumOf } from 'src/crypto/checksum';
import {
  API_KEY_SCAN_PATTERN,
  ORG_TOKEN_SCAN_PATTERN,
  recogniseSecret,
  SECRET_TYPES,
} from 'src/leaks/secret-formats';
import { generateOrgToken } from 'src/org-tokens/org-token-format';

// The expressions scanners get (docs/secret-formats.md, docs/gitleaks.toml) are the code's, find every secret
// the code mints, inside any text, and nothing of another shape.

const DOCS = join(__dirname, '..', '..', 'docs');
const page = readFileSync(join(DOCS, 'secret-formats.md'), 'utf8');
const gitleaks = readFileSync(join(DOCS, 'gitleaks.toml'), 'utf8');

/** The `type expression` lines of the page's "Regular expressions" block. */
function documented(): Map<string, string> {
  const section = page.slice(page.indexOf('## Regular expressions'));
  const block = /```text\n([\s\S]*?)```/.exec(section)![1]!;
  return new Map(
    block
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/) as [string, string]),
  );
}

/** gitleaks' rules, `id` → `regex`. */
function gitleaksRules(): Map<string, string> {
  const rules = new Map<string, string>();
  for (const rule of gitleaks.split('[[rules]]').slice(1)) {
    const id = /^id = "([^"]+)"$/m.exec(rule)![1]!;
    rules.set(id, /^regex = '''(.*)'''$/m.exec(rule)![1]!);
  }
  return rules;
}

const LEGACY_API_KEY_SCAN_PATTERN = '\\bksk_[0-9a-f]{16}_[0-9a-f]{64}\\b';

const findAll = (pattern: string, text: string): string[] =>
  [...text.matchAll(new RegExp(pattern, 'g'))].map((m) => m[0]);

describe('the published secret formats', () => {
  it('are the same expressions in the code, the docs page and the gitleaks rules', () => {
    expect(documented()).toEqual(
      new Map([
        [SECRET_TYPES.apiKey, API_KEY_SCAN_PATTERN],
        [`${SECRET_TYPES.apiKey}_legacy`, LEGACY_API_KEY_SCAN_PATTERN],
        [SECRET_TYPES.orgToken, ORG_TOKEN_SCAN_PATTERN],
      ]),
    );
    expect(gitleaksRules()).toEqual(
      new Map([
        ['keysmith-api-key', API_KEY_SCAN_PATTERN],
        ['keysmith-api-key-legacy', LEGACY_API_KEY_SCAN_PATTERN],
        ['keysmith-org-token', ORG_TOKEN_SCAN_PATTERN],
      ]),
    );
  });

  it('find every secret the code mints, wherever it sits in a text, and only it', () => {
    for (let i = 0; i < 200; i++) {
      const key = generateApiKey().plaintext;
      const token = generateOrgToken().token;
      const text = `API_KEY="${key}"\nexport ADMIN=${token};\n// ${key}, (${token})`;
      expect(findAll(API_KEY_SCAN_PATTERN, text)).toEqual([key, key]);
      expect(findAll(ORG_TOKEN_SCAN_PATTERN, text)).toEqual([token, token]);
      // A checksummed key is not also a legacy one: the expressions never both match one secret.
      expect(findAll(LEGACY_API_KEY_SCAN_PATTERN, text)).toEqual([]);
      expect(recogniseSecret(key)).toMatchObject({ kind: 'api_key' });
      expect(recogniseSecret(token)).toMatchObject({ kind: 'org_token' });
    }
  });

  it('find a key minted before the checksum with the legacy expression only', () => {
    const { keyId, secret } = generateApiKey();
    const legacy = `ksk_${keyId}_${secret}`;
    expect(findAll(LEGACY_API_KEY_SCAN_PATTERN, `k=${legacy}\n`)).toEqual([legacy]);
    expect(findAll(API_KEY_SCAN_PATTERN, `k=${legacy}\n`)).toEqual([]);
  });

  it('find nothing of another shape', () => {
    const key = generateApiKey().plaintext;
    const token = generateOrgToken().token;
    const others = [
      key.toUpperCase(),
      `x${key}`,
      `${key}x`,
      key.slice(0, -1),
      key.replace('ksk_', 'ksx_'),
      key.replace(/_/g, '-'),
      `ksk_${key.slice(4, 19)}_${key.slice(21)}`,
      `x${token}`,
      `${token}x`,
      token.slice(0, -1),
      token.replace('kso_', 'ksk_'),
      token.replace(/.$/, '-'),
      'ghp_0123456789abcdefghijABCDEFGHIJ012345',
      'sk_live_51H8abcdefghijklmnopqrstuvwxyz0123456789',
    ];
    for (const other of others) {
      const found = [API_KEY_SCAN_PATTERN, LEGACY_API_KEY_SCAN_PATTERN, ORG_TOKEN_SCAN_PATTERN].flatMap((p) =>
        findAll(p, other),
      );
      expect({ other, found }).toEqual({ other, found: [] });
    }
  });

  it('has test vectors that match, hold their checksums, and are no minted secret', () => {
    const section = page.slice(page.indexOf('## Test vectors'));
    const vectors = /```text\n([\s\S]*?)```/.exec(section)![1]!.trim().split('\n');
    expect(vectors).toHaveLength(2);
    const [key, token] = vectors as [string, string];
    expect(findAll(API_KEY_SCAN_PATTERN, key)).toEqual([key]);
    expect(findAll(ORG_TOKEN_SCAN_PATTERN, token)).toEqual([token]);
    expect(checksumOf(key.slice(0, key.lastIndexOf('_')))).toBe(key.slice(-6));
    expect(checksumOf(token.slice(0, -6))).toBe(token.slice(-6));
    expect(recogniseSecret(key)?.kind).toBe('api_key');
    expect(recogniseSecret(token)?.kind).toBe('org_token');
  });
});
