import { QueryFailedError } from 'typeorm';
import {
  isDatabaseUnavailable,
  isInvalidInput,
  isUniqueViolation,
  isWaitExceeded,
  sqlState,
} from 'src/database/database-errors';
import { sourcesMatching } from 'test/helpers/source-scan';

const failed = (code: string): QueryFailedError =>
  new QueryFailedError('SELECT 1', [], Object.assign(new Error('x'), { code }));

describe('database errors (the one home of PostgreSQL error codes)', () => {
  it('reads the SQLSTATE of a failed query, and of nothing else', () => {
    expect(sqlState(failed('23505'))).toBe('23505');
    expect(sqlState(Object.assign(new Error('x'), { code: '23505' }))).toBeUndefined();
    expect(sqlState(undefined)).toBeUndefined();
  });

  it('names a unique violation, wrapped or as the driver raised it', () => {
    expect(isUniqueViolation(failed('23505'))).toBe(true);
    expect(isUniqueViolation(Object.assign(new Error('x'), { code: '23505' }))).toBe(true);
    expect(isUniqueViolation(failed('23503'))).toBe(false);
    expect(isUniqueViolation(null)).toBe(false);
  });

  it.each(['22001', '22003', '22007', '22008', '22021', '22P02', '22P05'])('%s is bad input', (code) => {
    expect(isInvalidInput(failed(code))).toBe(true);
  });

  it('lock_timeout and statement_timeout are waits that ran out', () => {
    expect(isWaitExceeded(failed('55P03'))).toBe(true);
    expect(isWaitExceeded(failed('57014'))).toBe(true);
    expect(isWaitExceeded(failed('23505'))).toBe(false);
    expect(isWaitExceeded(Object.assign(new Error('x'), { code: '55P03' }))).toBe(false);
  });

  it.each(['57P01', '57P03', '53300', '08006'])('%s means the database is unavailable', (code) => {
    expect(isDatabaseUnavailable(failed(code))).toBe(true);
  });

  it('no other source file names a SQLSTATE', () => {
    expect(sourcesMatching(/'[0-9][0-9A-Z][0-9A-Z]{3}'/, 'database/database-errors.ts')).toEqual([]);
  });
});
