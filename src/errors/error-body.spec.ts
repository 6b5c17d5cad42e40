import { errorBody } from 'src/errors/error-body';
import { sourcesMatching } from 'test/helpers/source-scan';

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
    expect(sourcesMatching(/\berror: \{/, 'errors/error-body.ts')).toEqual([]);
  });
});
