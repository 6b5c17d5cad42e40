import { generateKeyPairSync, sign } from 'node:crypto';
import { ApiError } from 'src/errors/api-error';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { generateOrgToken } from 'src/org-tokens/org-token-format';
import { MAX_KEPT_TEXT, parseReport, signatureHeaders, signatureHolds } from 'src/leaks/scanning-report';
import {
  API_KEY_SCAN_PATTERN,
  ORG_TOKEN_SCAN_PATTERN,
  redactSecrets,
  REDACTED,
} from 'src/leaks/secret-formats';
import { scannerKeysAsJwks } from 'src/leaks/scanner-key-set';

const pair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (key: ReturnType<typeof pair>['publicKey']) =>
  key.export({ type: 'spki', format: 'pem' }).toString();

describe('signatureHeaders', () => {
  const signature = Buffer.alloc(70, 1).toString('base64');

  it('reads both headers, the signature decoded', () => {
    expect(
      signatureHeaders({ 'github-public-key-identifier': 'abc', 'github-public-key-signature': signature }),
    ).toEqual({ keyIdentifier: 'abc', signature: Buffer.alloc(70, 1) });
  });

  it.each([
    [{}],
    [{ 'github-public-key-identifier': 'abc' }],
    [{ 'github-public-key-signature': signature }],
    [{ 'github-public-key-identifier': '', 'github-public-key-signature': signature }],
    [{ 'github-public-key-identifier': 'x'.repeat(257), 'github-public-key-signature': signature }],
    [{ 'github-public-key-identifier': 'abc', 'github-public-key-signature': 'not base64!' }],
    [{ 'github-public-key-identifier': 'abc', 'github-public-key-signature': 'abc' }],
    [{ 'github-public-key-identifier': 'abc', 'github-public-key-signature': 'A'.repeat(132) }],
    [{ 'github-public-key-identifier': ['a', 'b'], 'github-public-key-signature': signature }],
  ])('refuses %j before any lookup', (headers) => {
    expect(signatureHeaders(headers)).toBeNull();
  });
});

describe('signatureHolds', () => {
  const { privateKey, publicKey } = pair();
  const body = Buffer.from('[{"token":"x"}]');
  const der = sign('sha256', body, { key: privateKey, dsaEncoding: 'der' });

  it('holds for a DER signature of the exact bytes', () => {
    expect(signatureHolds(body, der, publicKey)).toBe(true);
  });

  it('fails for other bytes, another key, a signature that is not DER', () => {
    expect(signatureHolds(Buffer.from('[{"token":"x"}] '), der, publicKey)).toBe(false);
    expect(signatureHolds(body, der, pair().publicKey)).toBe(false);
    expect(signatureHolds(body, Buffer.from('not der'), publicKey)).toBe(false);
    const p1363 = sign('sha256', body, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expect(signatureHolds(body, p1363, publicKey)).toBe(false);
  });
});

describe('parseReport', () => {
  const refusal = (body: string | Buffer): string => {
    try {
      parseReport(Buffer.from(body));
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      return (err as ApiError).message;
    }
    throw new Error('accepted');
  };

  it('reads the matches: strings kept, other values and unknown fields ignored', () => {
    const body = JSON.stringify([
      { token: 'a', type: 't', url: 'u', source: 'content', added: { later: true } },
      { token: 'b', type: 1, url: '', source: null },
    ]);
    expect(parseReport(Buffer.from(body))).toEqual([
      { token: 'a', type: 't', url: 'u', source: 'content' },
      { token: 'b', type: null, url: null, source: null },
    ]);
    expect(parseReport(Buffer.from('[]'))).toEqual([]);
  });

  it('keeps no fragment of the token in a URL where it straddles the length cut', () => {
    const { plaintext } = generateApiKey();
    for (const offset of [1, 10, 50, plaintext.length - 1]) {
      // The token starts `offset` characters before the cut.
      const url = `https://example.com/${'a'.repeat(MAX_KEPT_TEXT - 20 - offset)}${plaintext}/rest`;
      const [match] = parseReport(
        Buffer.from(JSON.stringify([{ token: plaintext, url, source: 'content' }])),
      );
      expect(match!.url!.length).toBeLessThanOrEqual(MAX_KEPT_TEXT);
      expect(match!.url).not.toContain(plaintext.slice(0, 12));
      expect(match!.url).not.toContain('ksk_');
    }
  });

  it('cuts every keysmith secret out of url, source and type, not only the reported token', () => {
    const reported = generateApiKey().plaintext;
    const otherKey = generateApiKey().plaintext;
    const legacyKey = otherKey.slice(0, otherKey.lastIndexOf('_'));
    const { token: orgToken } = generateOrgToken();
    const text = `x${otherKey}y ${legacyKey} (${orgToken}) ${reported}`;
    const [match] = parseReport(
      Buffer.from(
        JSON.stringify([{ token: reported, url: `https://e.com/?q=${text}`, source: text, type: text }]),
      ),
    );
    for (const field of [match!.url, match!.source, match!.type]) {
      for (const secret of [reported, otherKey, legacyKey, orgToken])
        expect(field).not.toContain(secret.slice(4, 20));
      expect(field).toContain(REDACTED);
    }
    expect(match!.source).toBe(`x${REDACTED}y ${REDACTED} (${REDACTED}) ${REDACTED}`);
    // A reported string of no keysmith shape is cut out too.
    const [odd] = parseReport(
      Buffer.from(JSON.stringify([{ token: 'not-ours-123', url: 'https://e.com/not-ours-123' }])),
    );
    expect(odd!.url).toBe(`https://e.com/${REDACTED}`);
  });

  it('refuses what is not a UTF-8 JSON array of objects with a string token, never quoting it', () => {
    const secret = 'ksk_secret_never_echoed';
    for (const body of [
      Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]),
      '',
      'nope',
      `{"token":"${secret}"}`,
      `["${secret}"]`,
      `[{"token":"${secret}"},null]`,
      `[{"tok":"${secret}"}]`,
      `[[{"token":"${secret}"}]]`,
      `[{"token":"${secret}","x":${'['.repeat(20)}${']'.repeat(20)}}]`,
    ]) {
      expect(refusal(body)).not.toContain(secret);
    }
  });
});

describe('scannerKeysAsJwks', () => {
  it('keeps the EC P-256 keys with an identifier, as ES256 JWKs named by it', () => {
    const ok = pair().publicKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const { keys } = scannerKeysAsJwks({
      public_keys: [
        { key_identifier: 'good', key: pem(ok), is_current: false },
        { key_identifier: 'rsa', key: pem(rsa), is_current: true },
        { key_identifier: 'p384', key: pem(p384), is_current: true },
        { key_identifier: '', key: pem(ok) },
        { key_identifier: 'x'.repeat(257), key: pem(ok) },
        { key_identifier: 'junk', key: 'not a pem' },
        null,
        'string',
      ],
    });
    expect(keys).toEqual([
      expect.objectContaining({ kid: 'good', kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' }),
    ]);
  });

  it('refuses a document without public_keys', () => {
    expect(() => scannerKeysAsJwks({ keys: [] })).toThrow(/public_keys/);
    expect(() => scannerKeysAsJwks(null)).toThrow(/public_keys/);
  });
});

describe('redactSecrets', () => {
  it('cuts out whatever a published expression finds, and the known strings', () => {
    const key = generateApiKey().plaintext;
    const { token } = generateOrgToken();
    const text = `a ${key} b ${token} c secret-x`;
    expect(redactSecrets(text, ['secret-x'])).toBe(`a ${REDACTED} b ${REDACTED} c ${REDACTED}`);
    for (const pattern of [API_KEY_SCAN_PATTERN, ORG_TOKEN_SCAN_PATTERN])
      expect(redactSecrets(text).match(new RegExp(pattern, 'g'))).toBeNull();
    expect(redactSecrets('nothing here', [''])).toBe('nothing here');
  });
});
