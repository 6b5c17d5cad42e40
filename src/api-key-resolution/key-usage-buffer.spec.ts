import { Logger } from '@nestjs/common';
import {
  KeyUsageBuffer,
  MAX_REMEMBERED_PAIRS,
  type KeyUsageBufferOptions,
  type KeyUse,
} from 'src/api-key-resolution/key-usage-buffer';

const PRECISION_MS = 60_000;
const FLUSH_DELAY_MS = 1_000;

/** A buffer on a settable clock whose writes are recorded; `busy` and `fail` switch the database. */
function buffer(overrides: Partial<KeyUsageBufferOptions> = {}) {
  const writes: KeyUse[][] = [];
  const state = { busy: false, fail: false, now: 1_000_000 };
  const options: KeyUsageBufferOptions = {
    precisionMs: PRECISION_MS,
    flushDelayMs: FLUSH_DELAY_MS,
    maxPending: 100,
    write: (uses) => {
      writes.push(uses.map((u) => ({ ...u })));
      return state.fail ? Promise.reject(new Error('database said no')) : Promise.resolve();
    },
    busy: () => state.busy,
    now: () => state.now,
    ...overrides,
  };
  return { buffer: new KeyUsageBuffer(options), writes, state };
}

describe('KeyUsageBuffer', () => {
  let warn: jest.SpyInstance;

  beforeEach(() => {
    jest.useFakeTimers();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
    jest.useRealTimers();
  });

  it('returns at once and writes after the flush delay', async () => {
    const { buffer: b, writes, state } = buffer();
    b.record('k1', 'gateway');
    expect(writes).toEqual([]);
    await jest.advanceTimersByTimeAsync(FLUSH_DELAY_MS - 1);
    expect(writes).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([[{ id: 'k1', clientId: 'gateway', firstAt: state.now, lastAt: state.now }]]);
  });

  it('keeps one entry per key and client, with the first and the last time seen, sorted by key then client', async () => {
    const { buffer: b, writes, state } = buffer();
    const t0 = state.now;
    b.record('k2', 'billing');
    b.record('k1', 'gateway');
    state.now = t0 + 300;
    b.record('k1', 'gateway');
    b.record('k1', 'billing');
    state.now = t0 + 700;
    b.record('k1', 'gateway');
    b.record('k1');
    await b.flush();
    expect(writes).toEqual([
      [
        { id: 'k1', clientId: null, firstAt: t0 + 700, lastAt: t0 + 700 },
        { id: 'k1', clientId: 'billing', firstAt: t0 + 300, lastAt: t0 + 300 },
        { id: 'k1', clientId: 'gateway', firstAt: t0, lastAt: t0 + 700 },
        { id: 'k2', clientId: 'billing', firstAt: t0, lastAt: t0 },
      ],
    ]);
  });

  it('never moves a last time back (a clock that steps back)', async () => {
    const { buffer: b, writes, state } = buffer();
    const t0 = state.now;
    b.record('k1', 'gateway');
    state.now = t0 - 5_000;
    b.record('k1', 'gateway');
    await b.flush();
    expect(writes[0]).toEqual([{ id: 'k1', clientId: 'gateway', firstAt: t0, lastAt: t0 }]);
  });

  it('skips a pair written less than the precision ago; a new client of the same key is written at once', async () => {
    const { buffer: b, writes, state } = buffer();
    const t0 = state.now;
    b.record('k1', 'gateway');
    await b.flush();
    state.now = t0 + PRECISION_MS - 1;
    b.record('k1', 'gateway');
    b.record('k1', 'billing');
    await b.flush();
    state.now = t0 + PRECISION_MS;
    b.record('k1', 'gateway');
    await b.flush();
    expect(writes.map((w) => w.map((u) => `${u.id}/${u.clientId}@${u.lastAt - t0}`))).toEqual([
      ['k1/gateway@0'],
      [`k1/billing@${PRECISION_MS - 1}`],
      [`k1/gateway@${PRECISION_MS}`],
    ]);
  });

  it('holds at most maxPending pairs: new pairs past it are dropped, known ones still move', async () => {
    const { buffer: b, writes, state } = buffer({ maxPending: 2 });
    const t0 = state.now;
    b.record('k1', 'a');
    b.record('k2', 'a');
    b.record('k3', 'a');
    state.now = t0 + 10;
    b.record('k1', 'a');
    await b.flush();
    expect(writes[0]!.map((u) => `${u.id}@${u.lastAt - t0}`)).toEqual(['k1@10', 'k2@0']);
    // The dropped pair was never remembered: its next use is recorded.
    b.record('k3', 'a');
    await b.flush();
    expect(writes[1]!.map((u) => u.id)).toEqual(['k3']);
  });

  it('remembers at most 100 clients per key and MAX_REMEMBERED_PAIRS pairs in all: a forgotten pair is written again', async () => {
    const { buffer: b, writes } = buffer({ maxPending: MAX_REMEMBERED_PAIRS + 10_000 });
    const clients = Array.from({ length: 101 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    for (const client of clients) b.record('k1', client);
    await b.flush();
    expect(writes[0]).toHaveLength(101);
    // The 101st client started the key's list over: c000 is forgotten, c100 is not.
    b.record('k1', 'c000');
    b.record('k1', 'c100');
    await b.flush();
    expect(writes[1]!.map((u) => u.clientId)).toEqual(['c000']);

    for (let i = 0; i < MAX_REMEMBERED_PAIRS; i++) b.record(`key-${i}`, 'gateway');
    await b.flush();
    expect(writes[2]).toHaveLength(MAX_REMEMBERED_PAIRS);
    // As many newer pairs pushed k1's out; the newest are still remembered.
    b.record('k1', 'c100');
    b.record(`key-${MAX_REMEMBERED_PAIRS - 1}`, 'gateway');
    await b.flush();
    expect(writes[3]!.map((u) => `${u.id}/${u.clientId}`)).toEqual(['k1/c100']);
  });

  it('while the database is busy, drops the pending uses and forgets them: the next use records them', async () => {
    const { buffer: b, writes, state } = buffer();
    state.busy = true;
    b.record('k1', 'gateway');
    await b.flush();
    expect(writes).toEqual([]);
    state.busy = false;
    b.record('k1', 'gateway');
    await b.flush();
    expect(writes.map((w) => w.map((u) => u.id))).toEqual([['k1']]);
  });

  it('forgets a failed write, logs it without ids or clients, and writes again on the next use', async () => {
    const { buffer: b, writes, state } = buffer();
    state.fail = true;
    b.record('k1', 'gateway');
    await b.flush();
    expect(warn.mock.calls).toEqual([
      [{ err: 'database said no', rows: 1 }, 'could not record the last use and the consumers of API keys'],
    ]);
    state.fail = false;
    b.record('k1', 'gateway');
    await b.flush();
    expect(writes).toHaveLength(2);
  });

  it('flush waits for the write under way; writes never overlap', async () => {
    let finishFirst!: () => void;
    const order: string[] = [];
    const { buffer: b } = buffer({
      write: (uses) => {
        const ids = uses.map((u) => u.id).join();
        if (ids === 'slow')
          return new Promise<void>((resolve) => (finishFirst = resolve)).then(() => {
            order.push('slow written');
          });
        order.push(`${ids} written`);
        return Promise.resolve();
      },
    });
    b.record('slow', 'c');
    const first = b.flush();
    b.record('next', 'c');
    const second = b.flush().then(() => order.push('second flush resolved'));
    await Promise.resolve();
    expect(order).toEqual([]);
    finishFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['slow written', 'next written', 'second flush resolved']);
  });

  it('flush with nothing pending writes nothing', async () => {
    const { buffer: b, writes } = buffer();
    await b.flush();
    await jest.advanceTimersByTimeAsync(FLUSH_DELAY_MS * 2);
    expect(writes).toEqual([]);
  });
});
