import { DataSource } from 'typeorm';
import { PeriodicSweep, type PeriodicSweepOptions, type SweepRun } from 'src/database/periodic-sweep';
import { createTestDatabase, type TestDatabase } from 'test/helpers/database';
import { startModules, type TestModules } from 'test/helpers/modules';

/** An arbitrary lock key of this file's own. */
const LOCK_KEY = 0x6b73_7474;
const INTERVAL_MS = 300_000;

/** A promise and its resolve, to hold a run open for as long as a test needs. */
function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The shared sweep loop (src/database/periodic-sweep.ts) that the OAuth session purge, the usage retention and
 * the expiry events sweep run on: its lock on a real database, its timer with Jest's fake setTimeout.
 */
describe('PeriodicSweep', () => {
  let db: TestDatabase;
  let modules: TestModules;
  let dataSource: DataSource;
  const sweeps: PeriodicSweep<unknown>[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    modules = await startModules(db, []);
    dataSource = modules.moduleRef.get(DataSource);
    await db.query('CREATE TABLE swept (n int)');
  });

  afterEach(async () => {
    jest.useRealTimers();
    await Promise.all(sweeps.splice(0).map((s) => s.stop()));
  });

  afterAll(async () => {
    await modules?.close();
    await db?.drop();
  });

  function sweep<R>(
    run: (s: SweepRun) => Promise<R>,
    logged: (r: R) => string | undefined = () => undefined,
  ) {
    const options: PeriodicSweepOptions<R> = {
      name: 'TestSweep',
      what: 'test sweep',
      lockKey: LOCK_KEY,
      intervalMs: INTERVAL_MS,
      run,
      logged,
    };
    const s = new PeriodicSweep(dataSource, options);
    sweeps.push(s);
    return s;
  }

  const lockFreeElsewhere = async (): Promise<boolean> => {
    const [row] = await db.query<{ free: boolean }>('SELECT pg_try_advisory_lock($1) AS free', [LOCK_KEY]);
    if (row!.free) await db.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    return row!.free;
  };

  describe('the lock', () => {
    it('runs the work in one transaction holding the advisory lock, released at its end', async () => {
      const s = sweep(({ locked }) =>
        locked(async (m) => {
          await m.query('INSERT INTO swept VALUES (1)');
          return { freeDuringRun: await lockFreeElsewhere() };
        }),
      );
      await expect(s.runOnce()).resolves.toEqual({ freeDuringRun: false });
      expect(await lockFreeElsewhere()).toBe(true);
      expect(await db.query('SELECT n FROM swept')).toEqual([{ n: 1 }]);
    });

    it('answers null without running the work, and without waiting, while another session holds it', async () => {
      await db.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
      const work = jest.fn(async () => 'ran');
      try {
        await expect(sweep(({ locked }) => locked(work)).runOnce()).resolves.toBeNull();
      } finally {
        await db.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
      }
      expect(work).not.toHaveBeenCalled();
      await expect(sweep(({ locked }) => locked(work)).runOnce()).resolves.toBe('ran');
    });

    it('lets one of two instances run at a time: the other skips', async () => {
      const hold = deferred();
      const entered = deferred();
      const a = sweep(({ locked }) =>
        locked(async () => {
          entered.resolve();
          await hold.promise;
          return 'a';
        }),
      );
      const b = sweep(({ locked }) => locked(async () => 'b'));
      const first = a.runOnce();
      await entered.promise;
      await expect(b.runOnce()).resolves.toBeNull();
      hold.resolve();
      await expect(first).resolves.toBe('a');
      await expect(b.runOnce()).resolves.toBe('b');
    });

    it('rolls the work back when it throws', async () => {
      await db.query('DELETE FROM swept');
      const s = sweep(({ locked }) =>
        locked(async (m) => {
          await m.query('INSERT INTO swept VALUES (2)');
          throw new Error('boom');
        }),
      );
      await expect(s.runOnce()).rejects.toThrow('boom');
      expect(await db.query('SELECT n FROM swept')).toEqual([]);
      expect(await lockFreeElsewhere()).toBe(true);
    });
  });

  describe('runOnce', () => {
    it('shares the run under way instead of starting a second, and hands the run the instant asked for', async () => {
      const hold = deferred();
      const run = jest.fn(async ({ now }: SweepRun) => {
        await hold.promise;
        return now;
      });
      const s = sweep(run);
      const a = s.runOnce(1000);
      const b = s.runOnce(2000);
      hold.resolve();
      expect(await Promise.all([a, b])).toEqual([1000, 1000]);
      expect(run).toHaveBeenCalledTimes(1);
      await expect(s.runOnce(3000)).resolves.toBe(3000);
    });
  });

  describe('the timer', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));

    it('runs every interval, logs what a run did, survives a failed run, and stops at shutdown', async () => {
      const run = jest.fn(async () => 3);
      run.mockRejectedValueOnce(new Error('database down'));
      const s = sweep(run, (n) => (n ? 'swept' : undefined));
      const logged = modules.logs.lines.length;
      s.start();
      await jest.advanceTimersByTimeAsync(INTERVAL_MS - 1);
      expect(run).not.toHaveBeenCalled();

      await jest.advanceTimersByTimeAsync(1);
      expect(run).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(INTERVAL_MS);
      expect(run).toHaveBeenCalledTimes(2);
      // The sweep's own lines: faked time can also make the app's revocation feed (real timers) see a silence.
      const lines = modules.logs.lines
        .slice(logged)
        .map((l) => JSON.parse(l) as { args: unknown[] })
        .filter((l) => l.args.includes('TestSweep'));
      expect(lines).toEqual([
        {
          level: 'warn',
          args: [{ err: 'database down' }, 'test sweep failed; retrying next time', 'TestSweep'],
        },
        { level: 'log', args: [3, 'swept', 'TestSweep'] },
      ]);

      await s.stop();
      await jest.advanceTimersByTimeAsync(3 * INTERVAL_MS);
      expect(run).toHaveBeenCalledTimes(2);
    });

    it('never keeps the process alive', () => {
      const spy = jest.spyOn(global, 'setTimeout');
      sweep(async () => undefined).start();
      const timer = spy.mock.results[0]!.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      spy.mockRestore();
    });

    it('waits at shutdown for a run under way, which sees that shutdown began', async () => {
      const hold = deferred();
      const seen: boolean[] = [];
      const s = sweep(async ({ stopping }) => {
        seen.push(stopping());
        await hold.promise;
        seen.push(stopping());
      });
      s.start();
      await jest.advanceTimersByTimeAsync(INTERVAL_MS);
      let stopped = false;
      const stopping = s.stop().then(() => (stopped = true));
      await jest.advanceTimersByTimeAsync(INTERVAL_MS);
      expect(stopped).toBe(false);
      hold.resolve();
      await stopping;
      expect(seen).toEqual([false, true]);
    });
  });
});
