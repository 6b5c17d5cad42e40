import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ApiError } from 'src/errors/api-error';

describe('ApiError.identityNotAllowed (the one way to say a disabled identity may not act)', () => {
  it('is a 403 identity_not_allowed with the caller’s message', () => {
    const err = ApiError.identityNotAllowed('This user is disabled.');
    expect([err.status, err.type, err.message]).toEqual([
      403,
      'identity_not_allowed',
      'This user is disabled.',
    ]);
  });

  it('is the only place that builds one', () => {
    const root = join(__dirname, '..');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const offenders = files(root)
      .filter((f) => !f.endsWith('.spec.ts') && !f.endsWith(join('errors', 'api-error.ts')))
      .filter((f) => /new ApiError\(\s*'identity_not_allowed'/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });
});
