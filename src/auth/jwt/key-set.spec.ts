import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpJwksFetcher } from 'src/auth/jwt/jwks-fetch';
import {
  KeySourceUnavailableError,
  NoMatchingKeyError,
  RemoteKeySet,
  type Clock,
} from 'src/auth/jwt/key-set';

/** Time that moves only when the test says so; sleepers wake when their time comes. */
class FakeClock implements Clock {
  private t = 1_000_000;
  private sleepers: { at: number; wake: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ at: this.t + ms, wake }));
  }

  get sleeping(): number {
    return this.sleepers.length;
  }

  async advance(ms: number): Promise<void> {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.wake();
    await settle();
  }
}

/** Lets every pending promise chain run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const publicJwk = (kid: string, alg = 'ES256'): JsonWebKey => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
  kid,
  alg,
  use: 'sig',
});

/** An issuer's JWKS endpoint as the key set sees it: counts fetches, can hold or fail them. */
class FakeJwks {
  fetches = 0;
  keys: JsonWebKey[] = [publicJwk('k1')];
  failing = false;
  private held: (() => void)[] | undefined;

  readonly fetch = async (): Promise<unknown> => {
    this.fetches++;
    // The answer is the set as it was when the request reached the issuer, however long it is held.
    const answer = { keys: this.keys };
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    if (this.failing) throw new Error('connection refused');
    return answer;
  };

  hold(): void {
    this.held = [];
  }

  async release(): Promise<void> {
    const held = this.held ?? [];
    this.held = undefined;
    for (const resolve of held) resolve();
    await settle();
  }
}

const INTERVAL = 5_000;
const MAX_AGE = 600_000;

describe('RemoteKeySet', () => {
  let clock: FakeClock;
  let jwks: FakeJwks;
  let failures: Error[];
  let keys: RemoteKeySet;

  beforeEach(() => {
    clock = new FakeClock();
    jwks = new FakeJwks();
    failures = [];
    keys = new RemoteKeySet({
      fetch: jwks.fetch,
      refetchIntervalMs: INTERVAL,
      maxAgeMs: MAX_AGE,
      algorithms: ['RS256', 'ES256'],
      clock,
      onFetchFailed: (err) => failures.push(err),
    });
  });

  /** Starts a lookup and reports how it ended so far, without awaiting it. */
  const lookup = (kid: string | undefined, alg = 'ES256') => {
    const outcome: { value?: unknown; error?: unknown; done: boolean } = { done: false };
    const promise = keys.keyFor(kid, alg).then(
      (value) => Object.assign(outcome, { value, done: true }),
      (error: unknown) => Object.assign(outcome, { error, done: true }),
    );
    return Object.assign(outcome, { promise });
  };

  it('fetches on first use, then serves known kids from the parsed set without fetching', async () => {
    const first = await keys.keyFor('k1', 'ES256');
    expect(first.asymmetricKeyType).toBe('ec');
    for (let i = 0; i < 50; i++) expect(await keys.keyFor('k1', 'ES256')).toBe(first);
    expect(jwks.fetches).toBe(1);
  });

  it('a rotated key verifies after one immediate refetch, however recently the set was fetched', async () => {
    await keys.keyFor('k1', 'ES256');
    jwks.keys = [...jwks.keys, publicJwk('k2')];
    // No clock advance: nothing waits on a gate or a timer.
    const rotated = lookup('k2');
    await settle();
    expect(rotated.done).toBe(true);
    expect(rotated.error).toBeUndefined();
    expect(jwks.fetches).toBe(2);
    expect(clock.sleeping).toBe(0);
    // And the next rotation, a second later, the same.
    await clock.advance(1_000);
    jwks.keys = [...jwks.keys, publicJwk('k3')];
    expect((await keys.keyFor('k3', 'ES256')).asymmetricKeyType).toBe('ec');
    expect(jwks.fetches).toBe(3);
  });

  it('concurrent unknown kids share one fetch; once it was spent in vain, the next ones wait for the gate, together', async () => {
    await keys.keyFor('k1', 'ES256');
    const junk = Array.from({ length: 100 }, (_, i) => lookup(`junk-${i}`));
    await settle();
    expect(jwks.fetches).toBe(2);
    await Promise.all(junk.map((j) => j.promise));
    for (const j of junk) expect(j.error).toBeInstanceOf(NoMatchingKeyError);
    // That fetch found none of the kids it was asked for: the gate is closed for an interval.
    await clock.advance(1_000);
    const more = Array.from({ length: 100 }, (_, i) => lookup(`junk-more-${i}`));
    await settle();
    expect(jwks.fetches).toBe(2);
    expect(more.every((j) => !j.done)).toBe(true);
    await clock.advance(INTERVAL - 1_000);
    await Promise.all(more.map((j) => j.promise));
    expect(jwks.fetches).toBe(3);
    for (const j of more) expect(j.error).toBeInstanceOf(NoMatchingKeyError);
  });

  it('a known kid never waits on a pending refetch', async () => {
    await keys.keyFor('k1', 'ES256');
    await clock.advance(INTERVAL);
    jwks.hold();
    const junk = lookup('junk');
    await settle();
    expect(jwks.fetches).toBe(2); // under way, held at the issuer
    const known = lookup('k1');
    await settle();
    expect(known.done).toBe(true);
    expect(known.error).toBeUndefined();
    expect(junk.done).toBe(false);
    await jwks.release();
    await junk.promise;
    expect(junk.error).toBeInstanceOf(NoMatchingKeyError);
  });

  it('while junk arrives, a rotated key verifies at the next gate opening, and junk costs one fetch per interval', async () => {
    await keys.keyFor('k1', 'ES256');
    let junkCount = 0;
    const flood = (): void => {
      for (let i = 0; i < 10; i++) void lookup(`junk-${junkCount++}`).promise;
    };
    flood(); // fetched at once, in vain: the gate closes for 5 s
    await settle();
    expect(jwks.fetches).toBe(2);
    await clock.advance(1_000);
    jwks.keys = [...jwks.keys, publicJwk('k2')];
    flood();
    const rotated = lookup('k2');
    await clock.advance(1_000);
    flood();
    expect(rotated.done).toBe(false);
    await clock.advance(3_000); // the gate opens 5 s after the fetch spent on junk
    await rotated.promise;
    expect(rotated.error).toBeUndefined();
    expect(jwks.fetches).toBe(3);
    // 5 s more of junk at 10 per second: one more fetch.
    for (let s = 0; s < 5; s++) {
      flood();
      await clock.advance(1_000);
    }
    expect(jwks.fetches).toBe(4);
    expect(junkCount).toBe(80);
  });

  it('a new kid that arrives during a background refresh without its key asks again at once', async () => {
    await keys.keyFor('k1', 'ES256');
    await clock.advance(MAX_AGE);
    jwks.hold();
    await keys.keyFor('k1', 'ES256'); // the refresh starts, held at the issuer
    expect(jwks.fetches).toBe(2);
    await clock.advance(10);
    jwks.keys = [...jwks.keys, publicJwk('k2')];
    const rotated = lookup('k2');
    await settle();
    await jwks.release(); // answered with the set before the rotation
    await rotated.promise;
    expect(rotated.error).toBeUndefined();
    expect(jwks.fetches).toBe(3);
    expect(clock.sleeping).toBe(0);
  });

  it('a token that joined a fetch started before it arrived asks again (after the gate, when junk spent that fetch)', async () => {
    await keys.keyFor('k1', 'ES256');
    await clock.advance(INTERVAL);
    jwks.hold();
    const junk = lookup('junk');
    await settle();
    // The issuer rotates after our request reached it; a token with the new key arrives meanwhile.
    await clock.advance(10);
    jwks.keys = [...jwks.keys, publicJwk('k2')];
    const rotated = lookup('k2');
    await settle();
    await jwks.release(); // answered with the set before the rotation
    await junk.promise;
    expect(junk.error).toBeInstanceOf(NoMatchingKeyError);
    expect(rotated.done).toBe(false);
    await clock.advance(INTERVAL);
    await rotated.promise;
    expect(rotated.error).toBeUndefined();
    expect(jwks.fetches).toBe(3);
  });

  it('refreshes a due set in the background, serving the old keys meanwhile and after a failed refresh', async () => {
    const k1 = await keys.keyFor('k1', 'ES256');
    await clock.advance(MAX_AGE);
    jwks.hold();
    expect(await keys.keyFor('k1', 'ES256')).toBe(k1); // answered at once, the refresh started
    expect(jwks.fetches).toBe(2);
    expect(await keys.keyFor('k1', 'ES256')).toBe(k1); // no second refresh while one is pending
    expect(jwks.fetches).toBe(2);
    jwks.failing = true;
    await jwks.release();
    expect(failures).toHaveLength(1);
    expect(await keys.keyFor('k1', 'ES256')).toBe(k1);
    // Still due: the next refresh waits for the gate.
    expect(jwks.fetches).toBe(2);
    await clock.advance(INTERVAL);
    jwks.failing = false;
    expect(await keys.keyFor('k1', 'ES256')).toBe(k1);
    await settle();
    expect(jwks.fetches).toBe(3);
    expect(failures).toHaveLength(1);
  });

  it('a key the issuer removed is refused once a refresh no longer lists it', async () => {
    await keys.keyFor('k1', 'ES256');
    jwks.keys = [publicJwk('k2')];
    await clock.advance(MAX_AGE);
    await keys.keyFor('k1', 'ES256'); // served, refresh in the background
    await settle();
    expect((await keys.keyFor('k2', 'ES256')).asymmetricKeyType).toBe('ec');
    // k1 is unknown now: one more look at once (it might have come back), then refused.
    const removed = lookup('k1');
    await removed.promise;
    expect(removed.error).toBeInstanceOf(NoMatchingKeyError);
    expect(jwks.fetches).toBe(3);
  });

  it('without any set, a failure is a KeySourceUnavailableError; within the interval it is answered without a fetch', async () => {
    jwks.failing = true;
    const burst = Array.from({ length: 20 }, () => lookup('k1'));
    await Promise.all(burst.map((b) => b.promise));
    for (const b of burst) expect(b.error).toBeInstanceOf(KeySourceUnavailableError);
    // Retry-After: when the gate lets the next fetch start.
    expect((burst[0]!.error as KeySourceUnavailableError).retryAfterSeconds).toBe(5);
    await clock.advance(3_200);
    const again = keys.keyFor('k1', 'ES256');
    await expect(again).rejects.toBeInstanceOf(KeySourceUnavailableError);
    await expect(again).rejects.toMatchObject({ retryAfterSeconds: 2 });
    expect(jwks.fetches).toBe(1);
    jwks.failing = false;
    await clock.advance(INTERVAL - 3_200);
    expect((await keys.keyFor('k1', 'ES256')).asymmetricKeyType).toBe('ec');
    expect(jwks.fetches).toBe(2);
  });

  it('an unknown kid while the issuer fails is unavailable (503), not refused, and known kids still pass', async () => {
    await keys.keyFor('k1', 'ES256');
    jwks.failing = true;
    const unknown = lookup('k9');
    await clock.advance(INTERVAL);
    await unknown.promise;
    expect(unknown.error).toBeInstanceOf(KeySourceUnavailableError);
    expect((await keys.keyFor('k1', 'ES256')).asymmetricKeyType).toBe('ec');
  });

  it('a token without a kid matches a single-key set only, and never asks for a refetch', async () => {
    expect((await keys.keyFor(undefined, 'ES256')).asymmetricKeyType).toBe('ec');
    jwks.keys = [...jwks.keys, publicJwk('k2')];
    await clock.advance(INTERVAL);
    await keys.keyFor('k2', 'ES256');
    expect(jwks.fetches).toBe(2);
    await expect(keys.keyFor(undefined, 'ES256')).rejects.toBeInstanceOf(NoMatchingKeyError);
    expect(jwks.fetches).toBe(2);
  });

  it('a known kid with another algorithm than its key is refused without a refetch', async () => {
    await keys.keyFor('k1', 'ES256');
    await expect(keys.keyFor('k1', 'RS256')).rejects.toBeInstanceOf(NoMatchingKeyError);
    expect(jwks.fetches).toBe(1);
  });

  it('reads signing keys only, skips what does not parse, and never replaces a good set with an empty one', async () => {
    const rsa = {
      ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }),
      kid: 'rsa',
    };
    jwks.keys = [
      { ...publicJwk('enc'), use: 'enc' },
      { ...publicJwk('hs'), alg: 'HS256' },
      { kty: 'oct', kid: 'oct', k: 'c2VjcmV0' },
      { kty: 'EC', kid: 'broken', crv: 'P-256', x: 'AA', y: 'AA' },
      rsa,
      publicJwk('k1'),
    ];
    expect((await keys.keyFor('rsa', 'RS256')).asymmetricKeyType).toBe('rsa');
    expect((await keys.keyFor('k1', 'ES256')).asymmetricKeyType).toBe('ec');
    for (const kid of ['enc', 'hs', 'oct', 'broken']) {
      await clock.advance(INTERVAL);
      await expect(keys.keyFor(kid, 'ES256')).rejects.toBeInstanceOf(NoMatchingKeyError);
    }
    jwks.keys = [{ ...publicJwk('enc'), use: 'enc' }];
    await clock.advance(MAX_AGE);
    await keys.keyFor('k1', 'ES256');
    await settle();
    expect(failures.map((f) => f.message)).toEqual(['the JWKS has no usable signing key']);
    expect((await keys.keyFor('rsa', 'RS256')).asymmetricKeyType).toBe('rsa');
  });
});

describe('httpJwksFetcher', () => {
  let server: Server;
  let handler: (url: string, res: ServerResponse) => void;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => handler(req.url ?? '', res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const fetcher = (maxBytes = 1024, timeoutMs = 2_000) =>
    httpJwksFetcher(`${base}/jwks`, { maxBytes, timeoutMs });

  it('reads a JSON key set', async () => {
    handler = (_url, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    await expect(fetcher()()).resolves.toEqual({ keys: [] });
  });

  it.each([
    ['a non-200 status', (res: ServerResponse) => res.writeHead(500).end('{}'), /500/],
    [
      'a redirect',
      (res: ServerResponse) => res.writeHead(302, { location: '/elsewhere' }).end(),
      /fetch failed/,
    ],
    ['a body that is not JSON', (res: ServerResponse) => res.end('<html>'), /not JSON/],
    [
      'an oversized body with its length declared',
      (res: ServerResponse) => res.end('x'.repeat(2048)),
      /larger than 1024/,
    ],
    [
      'an oversized body streamed without a length',
      (res: ServerResponse) => {
        res.writeHead(200, { 'transfer-encoding': 'chunked' });
        // Keeps sending: the reader must stop on its own.
        const timer = setInterval(() => res.write('x'.repeat(512)), 5);
        res.on('close', () => clearInterval(timer));
      },
      /larger than 1024/,
    ],
  ])('refuses %s', async (_label, answer, message) => {
    handler = (_url, res) => answer(res);
    await expect(fetcher()()).rejects.toThrow(message);
  });

  it('gives up at the deadline on an endpoint that never answers', async () => {
    handler = () => undefined;
    await expect(fetcher(1024, 200)()).rejects.toThrow(/timeout|aborted/i);
  });
});
