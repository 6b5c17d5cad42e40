import fc from 'fast-check';
import type { KeyUsageCounts } from 'src/key-usage/key-usage.repository';
import type { KeyUsageResponseDto } from 'src/key-usage/dto/key-usage.dto';
import { usageJson } from 'src/key-usage/usage-json';

const KEY_A = '3f1c2a4e-8b9d-4c7e-a1f2-0b3c4d5e6f70';
const KEY_B = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const H = 1_898_553_600; // 2030-03-01T00:00:00Z, in seconds

/** The answer as the object it stands for, written by JSON.stringify: what usageJson must equal byte for byte. */
function expected(
  rows: { keyId: string; buckets: [number, number, number][] }[],
  window = { from: -Infinity, to: Infinity },
): string {
  const answer: KeyUsageResponseDto = {
    usage: rows.map(({ keyId, buckets }) => {
      const byStart = new Map<number, [number, number, number]>();
      for (const [start, valid, refused] of buckets) {
        if (start < window.from || start >= window.to) continue;
        const b = byStart.get(start);
        if (b) [b[1], b[2]] = [b[1] + valid, b[2] + refused];
        else byStart.set(start, [start, valid, refused]);
      }
      const sorted = [...byStart.values()].sort((a, b) => a[0] - b[0]);
      return {
        keyId,
        valid: sorted.reduce((s, b) => s + b[1], 0),
        refused: sorted.reduce((s, b) => s + b[2], 0),
        buckets: sorted.map(([start, valid, refused]) => ({
          start: new Date(start * 1000).toISOString(),
          valid,
          refused,
        })),
      };
    }),
  };
  return JSON.stringify(answer);
}

const json = (...args: Parameters<typeof usageJson>): string => usageJson(...args).toString('utf8');

const counts = (buckets: [number, number, number][]): string | null =>
  buckets.length === 0 ? null : buckets.map((b) => b.join(',')).join(',');

describe('usageJson', () => {
  it('writes what JSON.stringify writes for the answer, keys in the order given, a key without counts with zeros', () => {
    const a: [number, number, number][] = [
      [H, 5, 1],
      [H + 3600, 7, 0],
    ];
    const rows: KeyUsageCounts[] = [
      { keyId: KEY_B, counts: null },
      { keyId: KEY_A, counts: counts(a) },
    ];
    expect(json(rows)).toBe(
      expected([
        { keyId: KEY_B, buckets: [] },
        { keyId: KEY_A, buckets: a },
      ]),
    );
    expect(json([])).toBe('{"usage":[]}');
  });

  it('puts buckets that PostgreSQL wrote out of order oldest first', () => {
    const b: [number, number, number][] = [
      [H + 7200, 1, 2],
      [H, 3, 0],
      [H + 3600, 0, 4],
    ];
    expect(JSON.parse(json([{ keyId: KEY_A, counts: counts(b) }]))).toEqual({
      usage: [
        {
          keyId: KEY_A,
          valid: 4,
          refused: 6,
          buckets: [
            { start: '2030-03-01T00:00:00.000Z', valid: 3, refused: 0 },
            { start: '2030-03-01T01:00:00.000Z', valid: 0, refused: 4 },
            { start: '2030-03-01T02:00:00.000Z', valid: 1, refused: 2 },
          ],
        },
      ],
    });
  });

  it('takes 90 days of hour buckets for a key, newest first, and starts that are not whole positive seconds', () => {
    const many = Array.from({ length: 24 * 90 }, (_, h): [number, number, number] => [
      H + h * 3600,
      h,
      1,
    ]).reverse();
    const odd: [number, number, number][] = [
      [H + 0.5, 1, 0],
      [-3600, 2, 0],
    ];
    const rows = [
      { keyId: KEY_A, counts: counts(many) },
      { keyId: KEY_B, counts: counts(odd) },
    ];
    expect(json(rows)).toBe(
      expected([
        { keyId: KEY_A, buckets: many },
        { keyId: KEY_B, buckets: odd },
      ]),
    );
  });

  it("answers the id as keyIdOf spells it (the caller's spelling)", () => {
    const body = json([{ keyId: KEY_A, counts: null }], (id) => id.toUpperCase());
    expect(body).toBe(`{"usage":[{"keyId":"${KEY_A.toUpperCase()}","valid":0,"refused":0,"buckets":[]}]}`);
  });

  it('prints counts beyond 2^53 as JavaScript numbers, as JSON.stringify did', () => {
    const [big, bigger] = ['9007199254740993', '12345678901234567890'];
    const body = json([{ keyId: KEY_A, counts: `${H},${big},${bigger}` }]);
    expect(body).toBe(expected([{ keyId: KEY_A, buckets: [[H, Number(big), Number(bigger)]] }]));
    expect(body).toContain('"valid":9007199254740992,"refused":12345678901234567000}');
  });

  it('leaves out the buckets that start outside the window: [from, to)', () => {
    const b: [number, number, number][] = [
      [H - 3600, 1, 0],
      [H, 2, 0],
      [H + 3600, 3, 1],
      [H + 7200, 4, 0],
    ];
    const window = { from: H, to: H + 7200 };
    expect(json([{ keyId: KEY_A, counts: counts(b) }], undefined, window)).toBe(
      expected([{ keyId: KEY_A, buckets: b }], window),
    );
    expect(json([{ keyId: KEY_A, counts: counts(b) }], undefined, { from: H + 1, to: H + 2 })).toBe(
      `{"usage":[{"keyId":"${KEY_A}","valid":0,"refused":0,"buckets":[]}]}`,
    );
  });

  it('adds up the buckets of a start given twice (a late flush compacted after its day)', () => {
    const b: [number, number, number][] = [
      [H, 2, 2],
      [H + 3600, 1, 0],
      [H, 10, 1],
      [H - 0.5, 1, 1],
      [H - 0.5, 1, 1],
    ];
    expect(JSON.parse(json([{ keyId: KEY_A, counts: counts(b) }])).usage[0].buckets).toEqual([
      { start: new Date((H - 0.5) * 1000).toISOString(), valid: 2, refused: 2 },
      { start: '2030-03-01T00:00:00.000Z', valid: 12, refused: 3 },
      { start: '2030-03-01T01:00:00.000Z', valid: 1, refused: 0 },
    ]);
  });

  it('orders and adds up more than 2^21 buckets of a key (more than the index packed below a start can hold)', () => {
    // An hour, then 2^21 buckets of the hour before: out of order, so sorted; the last index is 2^21.
    const n = 2 ** 21;
    const text = `3600,1,0,${'0,1,0,'.repeat(n).slice(0, -1)}`;
    expect(JSON.parse(json([{ keyId: KEY_A, counts: text }])).usage[0]).toEqual({
      keyId: KEY_A,
      valid: n + 1,
      refused: 0,
      buckets: [
        { start: '1970-01-01T00:00:00.000Z', valid: n, refused: 0 },
        { start: '1970-01-01T01:00:00.000Z', valid: 1, refused: 0 },
      ],
    });
  });

  it('equals JSON.stringify of the answer for any keys, buckets (an hour possibly twice) and window', () => {
    const hour = fc.integer({ min: 0, max: 24 * 90 });
    const duplicated = fc
      .array(fc.tuple(hour, fc.nat(1_000_000), fc.nat(1_000_000)), { maxLength: 60 })
      .map((bs) => bs.map(([h, v, r]): [number, number, number] => [H + h * 3600, v, r]));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uuid(), duplicated), { maxLength: 5 }), hour, hour, (keys, x, y) => {
        const window = { from: H + Math.min(x, y) * 3600, to: H + Math.max(x, y) * 3600 + 1 };
        const rows = keys.map(([keyId, buckets]) => ({ keyId, counts: counts(buckets) }));
        expect(json(rows, undefined, window)).toBe(
          expected(
            keys.map(([keyId, buckets]) => ({ keyId, buckets })),
            window,
          ),
        );
      }),
    );
  });

  it('equals JSON.stringify of the answer for any keys and buckets, in any order', () => {
    const bucketsArb = fc
      .uniqueArray(fc.integer({ min: 0, max: 24 * 90 }), { maxLength: 40 })
      .chain((hours) =>
        fc.tuple(
          fc.shuffledSubarray(hours, { minLength: hours.length, maxLength: hours.length }),
          fc.array(fc.tuple(fc.nat(1_000_000), fc.nat(1_000_000)), {
            minLength: hours.length,
            maxLength: hours.length,
          }),
        ),
      )
      .map(([hours, n]) => hours.map((h, i): [number, number, number] => [H + h * 3600, n[i]![0], n[i]![1]]));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uuid(), bucketsArb), { maxLength: 5 }), (keys) => {
        const rows = keys.map(([keyId, buckets]) => ({ keyId, counts: counts(buckets) }));
        expect(json(rows)).toBe(expected(keys.map(([keyId, buckets]) => ({ keyId, buckets }))));
      }),
    );
  });
});
