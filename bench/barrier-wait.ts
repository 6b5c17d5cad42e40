/**
 * `npm run bench:barrier` (not a test): how long a barrier of the revocation feed waits at a steady rate, with
 * marks pipelined on the listener and MARK_SENDERS mark-only connections (decision 0107), against marks sent
 * one at a time on the listener's connection alone (decision 0009's scheme: a barrier asked while a mark is in
 * flight waits for it and then for the next). Both feeds run in this process on one database and take turns
 * second by second, so the machine's load falls on both alike; a third feed, pipelined with
 * REVOCATION_MAX_STALENESS_MS, takes its turn too. No HTTP: only the barrier.
 *
 * Knobs: BENCH_DURATION (s per feed, default 10), BENCH_RATE (barriers per second, default 1,000),
 * BENCH_STALENESS_MS (the third feed's allowance, default 50).
 */
import { performance } from 'node:perf_hooks';
import type { AppConfig } from 'src/config/app-config';
import { RevocationFeed } from 'src/database/revocation-feed';
import { benchDatabase, runBenchmark } from './bench-kit';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 1_000);
/** The operator's trade measured beside the strict feeds (BENCH_STALENESS_MS, default 50). */
const STALENESS_MS = Number(process.env.BENCH_STALENESS_MS ?? 50);

/** Decision 0009's feed: marks one at a time, on the listener's connection only. */
class OneConnectionFeed extends RevocationFeed {
  protected override readonly markSenders = 0;
}

/** Barriers asked at `RATE` per second for one second; each wait counted from the call. */
async function oneSecond(feed: RevocationFeed, waits: number[]): Promise<number> {
  let failed = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      while (sent < RATE && start + (sent * 1000) / RATE <= now) {
        sent++;
        // Counted from the call, not from when it was due: the generator's own timer lateness (several ms on a
        // loaded machine) would otherwise hide what the feeds differ in.
        const asked = performance.now();
        pending.push(
          feed.barrier().then((passed) => {
            if (passed) waits.push(performance.now() - asked);
            else failed++;
          }),
        );
      }
      if (sent < RATE) setTimeout(tick, Math.max(0, start + (sent * 1000) / RATE - performance.now()));
      else done();
    };
    tick();
  });
  await Promise.all(pending);
  return failed;
}

async function main(): Promise<void> {
  const db = await benchDatabase('ks_barrier');
  const config = { databaseUrl: db.url, revocationMaxStalenessMs: 0 } as AppConfig;
  const feeds: [string, RevocationFeed][] = [
    ['pipelined (listener + 2 mark senders, 0107)', new RevocationFeed(config)],
    ['one at a time (listener only, 0009)', new OneConnectionFeed(config)],
    [
      `pipelined, REVOCATION_MAX_STALENESS_MS=${STALENESS_MS}`,
      new RevocationFeed({ ...config, revocationMaxStalenessMs: STALENESS_MS }),
    ],
  ];
  try {
    for (const [, feed] of feeds) {
      feed.subscribe('keysmith_bench_revoked', { revoked: () => undefined, reset: () => undefined });
      await feed.onModuleInit();
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // the mark senders connect
    const waits = feeds.map((): number[] => []);
    const failed = feeds.map(() => 0);
    for (let s = 0; s < DURATION_S; s++) {
      for (let i = 0; i < feeds.length; i++) failed[i]! += await oneSecond(feeds[i]![1], waits[i]!);
    }
    const at = (xs: number[], q: number): string =>
      xs.length ? xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(1) : '—';
    process.stdout.write(
      `barrier wait at ${RATE.toLocaleString('en')}/s, ${DURATION_S} s each, alternating by the second\n\n` +
        '| feed | barriers | p50 ms | p99 ms | max ms | not passed (250 ms) |\n| --- | ---: | ---: | ---: | ---: | ---: |\n',
    );
    feeds.forEach(([name], i) => {
      const xs = waits[i]!.sort((x, y) => x - y);
      process.stdout.write(
        `| ${name} | ${xs.length + failed[i]!} | ${at(xs, 0.5)} | ${at(xs, 0.99)} | ${at(xs, 1)} | ${failed[i]} |\n`,
      );
    });
  } finally {
    for (const [, feed] of feeds) await feed.onApplicationShutdown();
    await db.cleanup();
  }
}

runBenchmark(main);
