import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

// docs/architecture.md#dependency-rules: imports run one way. ESLint checks who may import whom; this checks
// what a list of permissions cannot: that no two folders of src/ reach each other, however indirectly, and
// that nothing reaches up to the composition root. Specs are left out (they may compose features).

const SRC = __dirname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** `src/...` modules a file imports or re-exports (type-only ones too: a loop in types is a loop). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName).filter((name) => name.startsWith('src/'));
}

/** `auth` for `src/auth/admin/x.ts`; undefined for a file at the top of src/ (the composition root). */
function folderOf(srcPath: string): string | undefined {
  const parts = srcPath.split('/');
  return parts.length > 2 ? parts[1] : undefined;
}

const files = sourceFiles(SRC).map((file) => ({
  path: `src/${relative(SRC, file).split('\\').join('/').replace(/\.ts$/, '')}`,
  imports: importsOf(file),
}));

/** Every cycle's folders, as strongly connected components of more than one folder (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** Each edge of a cycle with the files that make it, so a failure says what to move. */
function explain(component: string[], edgesOf: (from: string, to: string) => string[]): string[] {
  const members = new Set(component);
  return component.flatMap((from) =>
    [...members].filter((to) => to !== from).flatMap((to) => edgesOf(from, to)),
  );
}

describe('the structure of src/', () => {
  it('reads the imports it checks', () => {
    expect(files.length).toBeGreaterThan(100);
    const resolution = files.find((f) => f.path === 'src/api-key-resolution/api-key-resolution.module');
    expect(resolution?.imports).toContain('src/api-keys/api-keys.module');
  });

  it('has no loop between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const file of files) {
      const from = folderOf(file.path);
      if (from === undefined) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      for (const imported of file.imports) {
        const to = folderOf(imported);
        if (to !== undefined && to !== from) graph.get(from)!.add(to);
      }
    }
    const edgesOf = (from: string, to: string): string[] =>
      files
        .filter((f) => folderOf(f.path) === from)
        .flatMap((f) => f.imports.filter((i) => folderOf(i) === to).map((i) => `${f.path} → ${i}`));
    expect(cycles(graph).map((component) => explain(component, edgesOf))).toEqual([]);
  });

  it('has no loop between files', () => {
    const graph = new Map(files.map((f) => [f.path, new Set(f.imports)]));
    const edgesOf = (from: string, to: string): string[] =>
      graph.get(from)?.has(to) ? [`${from} → ${to}`] : [];
    expect(cycles(graph).map((component) => explain(component, edgesOf))).toEqual([]);
  });

  it('provides each class in one module only (one instance: a module that needs it imports its owner)', () => {
    const owners = new Map<unknown, string[]>();
    for (const file of files.filter((f) => f.path.endsWith('.module'))) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the modules' metadata is read, not their code
      const exported = require(join(SRC, '..', file.path)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(exported)) {
        if (typeof value !== 'function') continue;
        const providers = (Reflect.getMetadata('providers', value) ?? []) as unknown[];
        for (const provider of providers.filter((p) => typeof p === 'function'))
          owners.set(provider, [...(owners.get(provider) ?? []), name]);
      }
    }
    expect(owners.size).toBeGreaterThan(20);
    const twice = [...owners].filter(([, modules]) => modules.length > 1);
    expect(
      twice.map(([provider, modules]) => `${(provider as { name: string }).name}: ${modules.join(', ')}`),
    ).toEqual([]);
  });

  it('imports the composition root (app.module, app.setup, main) from nowhere inside a folder', () => {
    const upward = files.flatMap((f) =>
      folderOf(f.path) === undefined
        ? []
        : f.imports.filter((i) => folderOf(i) === undefined).map((i) => `${f.path} → ${i}`),
    );
    expect(upward).toEqual([]);
  });
});
