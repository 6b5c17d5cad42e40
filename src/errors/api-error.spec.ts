import { ApiError } from 'src/errors/api-error';
import { sourcesMatching } from 'test/helpers/source-scan';

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
    expect(sourcesMatching(/new ApiError\(\s*'identity_not_allowed'/, 'errors/api-error.ts')).toEqual([]);
  });
});
