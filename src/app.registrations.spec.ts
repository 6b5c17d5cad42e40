import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONFIG_SLICES, ENCRYPTED_TABLES, loadAppConfig, RATE_LIMIT_POLICIES } from 'src/app.registrations';
import { definedConfigSlices } from 'src/config/config-slice';
import { definedEncryptedTables } from 'src/crypto/encryption/encrypted-tables';
import { rateLimitPolicies } from 'src/rate-limit/rate-limit-policy';

// Every config slice, rate-limit policy and encrypted table defined anywhere in src/ is named in the lists of
// src/app.registrations.ts, which the configuration, the start key check and the rewrap read: a definition
// the lists miss (or an import deleted from them) fails here, not silently in production.

const SRC = __dirname;
const DEFINERS = ['defineConfig', 'defineRateLimit', 'defineEncryptedTable'] as const;
type Definer = (typeof DEFINERS)[number];

/** Every non-spec file of src/ with the number of calls it makes to each definer (their own files aside). */
function definitions(dir = SRC): { file: string; calls: Record<Definer, number> }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return definitions(path);
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.spec.ts')) return [];
    const text = readFileSync(path, 'utf8');
    const calls = Object.fromEntries(
      DEFINERS.map((d) => [d, [...text.matchAll(new RegExp(`\\b${d}\\(`, 'g'))].length]),
    ) as Record<Definer, number>;
    // The definers' own declarations (`export function defineX(`) are not calls.
    for (const d of DEFINERS) if (text.includes(`export function ${d}`)) calls[d] -= 1;
    return DEFINERS.some((d) => calls[d] > 0) ? [{ file: path, calls }] : [];
  });
}

const found = definitions();
const callsOf = (definer: Definer): number => found.reduce((sum, f) => sum + f.calls[definer], 0);

describe('src/app.registrations.ts', () => {
  beforeAll(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- every definition of src/, listed or not
    for (const { file } of found) require(file);
  });

  it('finds the definitions it checks', () => {
    expect(found.map((f) => relative(SRC, f.file))).toContain('credentials/credentials.encrypted-table.ts');
    expect(callsOf('defineConfig')).toBeGreaterThan(8);
    expect(callsOf('defineRateLimit')).toBeGreaterThan(5);
    expect(callsOf('defineEncryptedTable')).toBeGreaterThan(1);
  });

  it('lists every config slice defined in src/, once', () => {
    expect(new Set(CONFIG_SLICES).size).toBe(CONFIG_SLICES.length);
    expect(CONFIG_SLICES).toHaveLength(callsOf('defineConfig'));
    expect(
      definedConfigSlices()
        .filter((s) => !CONFIG_SLICES.includes(s))
        .map((s) => s.name),
    ).toEqual([]);
  });

  it('lists every rate-limit policy defined in src/, once', () => {
    expect(new Set(RATE_LIMIT_POLICIES).size).toBe(RATE_LIMIT_POLICIES.length);
    expect(RATE_LIMIT_POLICIES).toHaveLength(callsOf('defineRateLimit'));
    expect(
      rateLimitPolicies()
        .filter((p) => !RATE_LIMIT_POLICIES.includes(p))
        .map((p) => p.name),
    ).toEqual([]);
  });

  it('lists every encrypted table defined in src/, once', () => {
    expect(new Set(ENCRYPTED_TABLES).size).toBe(ENCRYPTED_TABLES.length);
    expect(ENCRYPTED_TABLES).toHaveLength(callsOf('defineEncryptedTable'));
    expect(
      definedEncryptedTables()
        .filter((t) => !ENCRYPTED_TABLES.includes(t))
        .map((t) => t.table),
    ).toEqual([]);
  });

  it('loads the configuration from every slice listed', () => {
    const config = loadAppConfig({});
    for (const slice of CONFIG_SLICES) expect(() => config.get(slice)).not.toThrow();
  });
});
