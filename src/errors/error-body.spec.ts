import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errorBody } from 'src/errors/error-body';

describe('errorBody (the one builder of the error envelope)', () => {
  it('takes the status of the type, in the contract’s field order', () => {
    expect(JSON.stringify(errorBody('conflict', 'Taken.'))).toBe(
      '{"error":{"type":"conflict","status":409,"message":"Taken."}}',
    );
  });

  it('answers a status without a type of its own with the nearest type', () => {
    expect(errorBody('validation_failed', 'Request headers too large.', { status: 431 })).toEqual({
      error: { type: 'validation_failed', status: 431, message: 'Request headers too large.' },
    });
  });

  it('adds details and reason only when there are some', () => {
    const body = errorBody('upstream_failed', 'Failed.', {
      details: [{ field: 'a', messages: ['b'] }],
      reason: 'timeout',
    });
    expect(JSON.stringify(body)).toBe(
      '{"error":{"type":"upstream_failed","status":502,"message":"Failed.",' +
        '"details":[{"field":"a","messages":["b"]}],"reason":"timeout"}}',
    );
    expect(Object.keys(errorBody('not_found', 'Gone.', { details: undefined }).error)).toEqual([
      'type',
      'status',
      'message',
    ]);
  });

  it('is the only place that writes the envelope', () => {
    const root = join(__dirname, '..');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const offenders = files(root)
      .filter((f) => !f.endsWith('.spec.ts') && !f.endsWith(join('errors', 'error-body.ts')))
      .filter((f) => /\berror: \{/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });
});
