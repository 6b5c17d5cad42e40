import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = join(__dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/**
 * The source files of src/ (specs left out) whose text matches `pattern`, but `home` (a path under src/):
 * for the specs that keep a rule in its one home.
 */
export function sourcesMatching(pattern: RegExp, home: string): string[] {
  return sourceFiles(SRC)
    .map((f) => relative(SRC, f))
    .filter((f) => !f.endsWith('.spec.ts') && f !== home)
    .filter((f) => pattern.test(readFileSync(join(SRC, f), 'utf8')));
}
