import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { minVersion, satisfies } from 'semver';

// `npm install` warns (EBADENGINE) about every installed package whose `engines.node` excludes the running
// Node. The README names the Node versions on which keysmith installs without one: this keeps that true as
// the lock file moves, and keeps the README, `engines` and the lock file saying the same thing.

const ROOT = join(__dirname, '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
  os?: string[];
  cpu?: string[];
}

const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockedPackage> };

/**
 * Node 20 (past its end of life) still runs keysmith and its tests, but some dependencies declare Node 22:
 * `npm install` on it warns about them, as the README says. Every other range of `engines` must install
 * cleanly from its lowest version on.
 */
const WITH_WARNINGS = /^\^20\./;
const ranges = pkg.engines.node.split('||').map((r) => r.trim());
const clean = ranges.filter((r) => !WITH_WARNINGS.test(r));

/** The `engines.node` range a locked package declares (some old packages wrote `engines` as an array). */
const nodeRange = (p: LockedPackage): string | undefined =>
  Array.isArray(p.engines) ? undefined : p.engines?.node;

/** The installed packages (this platform's) whose `engines.node` excludes `version`. */
function warnedAt(version: string): string[] {
  const warned: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    const range = nodeRange(p);
    if (path === '' || range === undefined) continue;
    if (p.optional && p.os && !p.os.includes(process.platform)) continue;
    if (p.optional && p.cpu && !p.cpu.includes(process.arch)) continue;
    if (!satisfies(version, range, { includePrerelease: true }))
      warned.push(`${path.replace(/^.*node_modules\//, '')}@${p.version} (node ${range})`);
  }
  return warned;
}

describe('engines: the Node versions keysmith installs on', () => {
  it('names Node 20.19 (with warnings) and clean Node 22 and 24 ranges', () => {
    expect(ranges.some((r) => WITH_WARNINGS.test(r))).toBe(true);
    expect(clean.length).toBeGreaterThan(0);
  });

  it.each(clean)('installs with no engine warning from the lowest version of %s on', (range) => {
    const lowest = minVersion(range)!.version;
    expect(warnedAt(lowest)).toEqual([]);
  });

  it('the README names the lowest version of each range', () => {
    const readme = read('README.md');
    for (const range of ranges) {
      const { major, minor, patch } = minVersion(range)!;
      expect(readme).toContain(patch ? `${major}.${minor}.${patch}` : `${major}.${minor}`);
    }
  });
});
