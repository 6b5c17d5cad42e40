import { randomUUID } from 'node:crypto';
import { integerArray, textArray, uuidArray } from 'src/database/pg-array';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';

/** The literals of src/database/pg-array.ts read back by PostgreSQL as the arrays they were built from. */
describe('PostgreSQL array literals', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function readBack<T>(literal: string, type: string): Promise<T[]> {
    const rows = await db.query<{ v: T[] }>(`SELECT $1::${type}[] AS v`, [literal]);
    return rows[0]!.v;
  }

  it('reads uuids back', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    await expect(readBack<string>(uuidArray(ids), 'uuid')).resolves.toEqual(ids);
    await expect(readBack<string>(uuidArray([]), 'uuid')).resolves.toEqual([]);
  });

  it('reads integers back, and refuses what is not one', async () => {
    const values = [0, 1, -5, 1_796_950_000_000, Number.MAX_SAFE_INTEGER];
    const back = await readBack<string>(integerArray(values), 'bigint');
    expect(back.map(Number)).toEqual(values);
    expect(() => integerArray([1.5])).toThrow(RangeError);
    expect(() => integerArray([Number.NaN])).toThrow(RangeError);
  });

  it('reads any text back, NULL included', async () => {
    const values = [
      'svc@clients',
      '',
      'NULL',
      'a,b',
      '{braces}',
      'say "hi"',
      'back\\slash\\',
      '  spaced  ',
      'ünïcødé ✓',
      null,
    ];
    await expect(readBack<string | null>(textArray(values), 'varchar')).resolves.toEqual(values);
  });
});
