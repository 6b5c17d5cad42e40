import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_SLICES, RATE_LIMIT_POLICIES } from 'src/app.registrations';
import { loadConfig } from 'src/config/config-slice';
import type { Env } from 'src/config/env-reader';
import { rateLimitVariable } from 'src/rate-limit/rate-limit.config';

// Every variable a config slice reads is listed in docs/configuration.md. The slices are loaded as the app
// loads them (CONFIG_SLICES; src/app.registrations.spec.ts checks that it names every slice of src/), with an environment that records every name asked for; a variable read only on some path (in
// production, or once another one is set) is found by loading again with every name seen so far set.

const DOC = readFileSync(join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
/** The variables a table of configuration.md lists (its first column). */
const documented = new Set([...DOC.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`/gm)].map((m) => m[1]!));

/** A value of the kind a name suggests, so that the branches behind it are taken. */
function plausible(name: string): string {
  if (name === 'DATABASE_URL') return 'postgres://keysmith@db.example/keysmith';
  if (name === 'REDIS_URL') return 'redis://redis.example:6379';
  if (/_(URI|URL|ORIGIN|ORIGINS|BASE)$/.test(name)) return 'https://keysmith.example';
  if (/(_MS|_SECONDS|_MAX_|_PREFIX|PORT|_VERSION)/.test(name)) return '64';
  if (name === 'NODE_ENV') return 'production';
  return 'true';
}

function namesRead(env: Env): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  try {
    loadConfig(recording, CONFIG_SLICES);
  } catch {
    // Invalid combinations are expected: only the names asked for matter here.
  }
  return read;
}

function everyNameRead(): Set<string> {
  const seen = new Set<string>();
  for (;;) {
    const before = seen.size;
    const allSet = Object.fromEntries([...seen].map((name) => [name, plausible(name)]));
    for (const env of [{}, { NODE_ENV: 'production' }, allSet, { ...allSet, NODE_ENV: 'test' }])
      for (const name of namesRead(env)) seen.add(name);
    if (seen.size === before) return seen;
  }
}

describe('docs/configuration.md', () => {
  let read: Set<string>;

  beforeAll(() => {
    expect(CONFIG_SLICES.length).toBeGreaterThan(8);
    read = everyNameRead();
  });

  it('is checked against what the slices really read', () => {
    for (const name of ['NODE_ENV', 'DATABASE_URL', 'ADMIN_TOKEN', 'ENCRYPTION_KEYS', 'HTTP_MAX_CONNECTIONS'])
      expect(read).toContain(name);
  });

  it('lists every variable a config slice reads', () => {
    expect([...read].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });

  it('names every rate-limit policy’s variable', () => {
    const variables = RATE_LIMIT_POLICIES.map(rateLimitVariable);
    expect(variables.length).toBeGreaterThan(3);
    expect(variables.filter((v) => !DOC.includes(`\`${v}\``))).toEqual([]);
  });
});
