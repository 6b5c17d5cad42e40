import { Writable } from 'node:stream';
import pino from 'pino';
import { generateApiKey } from 'src/api-keys/api-key-format';
import { censorSecrets, REDACTED, redactingLoggerOptions } from 'src/logging/redaction';
import { generateOrgToken } from 'src/org-tokens/org-token-format';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('log redaction', () => {
  const secret = 's3cr3t-value-that-must-not-appear';

  function logOnce(obj: object, msg = 'event'): { line: Record<string, unknown>; raw: string } {
    const out = capture();
    const logger = pino(redactingLoggerOptions({ level: 'info' }), out.stream);
    logger.info(obj, msg);
    const [line] = out.lines();
    return { line: line ?? {}, raw: JSON.stringify(line) };
  }

  it.each([
    ['depth 3', { a: { b: { token: secret } } }],
    ['an array', { items: [{ token: secret }] }],
    ['a capitalised Authorization', { headers: { Authorization: `Bearer ${secret}` } }],
    ['privateKey', { privateKey: secret }],
    ['encryptionKey', { config: { encryptionKey: secret } }],
    ['adminToken', { adminToken: secret }],
    ['jwt', { jwt: secret }],
    ['plaintext', { plaintext: secret }],
    ['x-api-key', { headers: { 'x-api-key': secret } }],
    ['API_KEY', { API_KEY: secret }],
    ['key', { key: secret }],
    ['a cookie', { cookie: secret }],
    ['a client credential', { clientCredential: secret }],
    ['a passphrase', { passphrase: secret }],
  ])('censors a secret field at %s', (_label, obj) => {
    const { raw } = logOnce(obj);
    expect(raw).not.toContain(secret);
    expect(raw).toContain(REDACTED);
  });

  describe("keysmith's own credentials, recognised by shape", () => {
    const key = generateApiKey();
    const legacy = key.plaintext.slice(0, key.plaintext.lastIndexOf('_'));
    const { token } = generateOrgToken();

    it.each([
      ['a checksummed API key', key.plaintext],
      ['an API key minted before the checksum', legacy],
      ['an org token', token],
      ['an API key with a typo', `${key.plaintext.slice(0, 30)}G${key.plaintext.slice(31)}`],
    ])(
      'censors %s in a secret-named field, any other field, the message and an error',
      (_label, credential) => {
        const out = capture();
        const logger = pino(redactingLoggerOptions({ level: 'info' }), out.stream);
        logger.info({ key: credential, apiKey: credential }, 'event');
        logger.info({ detail: `presented ${credential}`, nested: [{ note: credential }] }, 'event');
        logger.warn(`refused ${credential} for gateway`);
        logger.error({ err: new Error(`lookup of ${credential} failed`) }, 'failed');
        const raw = JSON.stringify(out.lines());
        expect(out.lines()).toHaveLength(4);
        expect(raw).not.toContain(credential.slice(4, 40));
        expect(out.lines()[2]!.msg).toBe(`refused ${REDACTED} for gateway`);
      },
    );

    it('keeps a display prefix and an actor readable', () => {
      const { line } = logOnce(
        { keyPrefix: key.prefix, actor: `api-key:${key.prefix}` },
        `key ${key.prefix}`,
      );
      expect(line).toMatchObject({
        keyPrefix: key.prefix,
        actor: `api-key:${key.prefix}`,
        msg: `key ${key.prefix}`,
      });
    });
  });

  it('keeps ordinary fields and the message readable', () => {
    const { line } = logOnce({ keyId: 'kid_1', url: '/api/v1/x', method: 'GET', statusCode: 200 }, 'hello');
    expect(line).toMatchObject({
      keyId: 'kid_1',
      url: '/api/v1/x',
      method: 'GET',
      statusCode: 200,
      msg: 'hello',
    });
  });

  it('censors secrets inside a logged error and drops a database error statement and parameters', () => {
    const err = Object.assign(new Error('boom'), {
      parameters: [secret],
      query: `INSERT ${secret}`,
      driverError: { detail: secret },
      token: secret,
    });
    const { line, raw } = logOnce({ err });
    expect(raw).not.toContain(secret);
    expect(line.err).toMatchObject({ type: 'Error', message: 'boom' });
  });

  it('survives cycles and very deep objects', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { token: secret };
    for (let i = 0; i < 50; i++) deep = { next: deep };
    const { raw } = logOnce({ cyclic, deep });
    expect(raw).toContain('[Circular]');
    expect(raw).not.toContain(secret);
  });

  it('censors bindings of child loggers too', () => {
    const out = capture();
    const logger = pino(redactingLoggerOptions({ level: 'info' }), out.stream);
    logger.child({ session: { refreshToken: secret } }).info('child');
    expect(JSON.stringify(out.lines())).not.toContain(secret);
  });

  it('leaves strings, numbers and nulls alone', () => {
    expect(censorSecrets({ a: 'x', b: 1, c: null, d: [1, 'y'] })).toEqual({
      a: 'x',
      b: 1,
      c: null,
      d: [1, 'y'],
    });
  });
});
