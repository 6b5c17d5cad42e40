/**
 * `npm run bench:events` (not a test): the cost of the transactional outbox on a mint, and delivery
 * throughput (issue 22).
 *
 * On a fresh database (DATABASE_URL's server when set, otherwise a throwaway embedded PostgreSQL), keysmith in
 * production mode in this process, with a webhook receiver on 127.0.0.1 (named in WEBHOOK_ALLOWED_HOSTS) in
 * this process too:
 *   - mints: BENCH_MINTS developer-key mints (DeveloperKeysService.create, one transaction each, sequential)
 *     with no endpoint, then with one endpoint subscribed to `api_key.created`, in alternating rounds so that
 *     a drifting machine hurts both alike; mean and p50 per mint, and the ratio;
 *   - delivery: BENCH_EVENTS events written in transactions of 1,000 (EventsOutbox.emitMany), then the time
 *     until the receiver has every one (events/s), at the default WEBHOOK_CONCURRENCY(_PER_ENDPOINT) unless
 *     set.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { DataSource } from 'typeorm';
import { DeveloperKeysService } from 'src/api-keys/developer-keys.service';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { webhookSecretField } from 'src/events/events.encrypted-table';
import { EventsOutbox } from 'src/events/events-outbox';
import { WebhookDeliveries } from 'src/events/webhook-deliveries';
import { listenBenchApp } from './bench-app';
import { baseServerEnv, benchDatabase, runBenchmark } from './bench-kit';

const MINTS = Number(process.env.BENCH_MINTS ?? 1000);
const ROUNDS = 4;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);

async function main(): Promise<void> {
  const received = new Map<string, number>();
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      received.set(id, (received.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverPort = (receiver.address() as AddressInfo).port;

  const database = await benchDatabase('ks_bench_events');
  Object.assign(process.env, {
    ...baseServerEnv(database.url),
    LOG_LEVEL: 'warn',
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_POLL_INTERVAL_MS: process.env.WEBHOOK_POLL_INTERVAL_MS ?? '1000',
  });
  const { app } = await listenBenchApp([]);
  const data = app.get(DataSource);
  try {
    const insertEndpoint = async (events: string[]): Promise<string> => {
      const [row] = await data.query<{ id: string }[]>(
        `INSERT INTO webhook_endpoints (id, url, events, format, secret_enc, enc_key_version, enabled)
         VALUES (gen_random_uuid(), $1, $2, 'standard-webhooks', $3, 1, false) RETURNING id`,
        [`http://127.0.0.1:${receiverPort}/hook`, events, Buffer.alloc(0)],
      );
      return row!.id;
    };
    // Secrets sealed as the service does: created through the service would need the admin HTTP surface.
    const seal = async (id: string): Promise<void> => {
      const sealed = app
        .get(EncryptionService)
        .encrypt(`whsec_${randomBytes(32).toString('base64')}`, webhookSecretField(id, 'secret_enc'));
      await data.query('UPDATE webhook_endpoints SET secret_enc = $2, enc_key_version = $3 WHERE id = $1', [
        id,
        sealed.ciphertext,
        sealed.keyVersion,
      ]);
    };
    const minting = await insertEndpoint(['api_key.created']);
    await seal(minting);

    const keys = app.get(DeveloperKeysService);
    const principal = { kind: 'session' as const, sub: 'bench-user', actor: 'session:bench-user' };
    const ctx = { actor: principal.actor, ip: null, requestId: null };
    await keys.create(principal, {}, ctx); // the user and its default project, outside the measurement
    // The mints measure what the outbox adds to their transaction; the deliveries they queue are sent after
    // (measured below), not on this process's event loop while the mints are timed.
    const worker = app.get(WebhookDeliveries);
    await worker.beforeApplicationShutdown();
    const times: Record<'without' | 'with', number[]> = { without: [], with: [] };
    for (let round = 0; round < ROUNDS * 2; round++) {
      const mode = round % 2 === 0 ? 'without' : 'with';
      await data.query('UPDATE webhook_endpoints SET enabled = $2 WHERE id = $1', [minting, mode === 'with']);
      for (let i = 0; i < MINTS / ROUNDS; i++) {
        const start = process.hrtime.bigint();
        await keys.create(principal, { label: `bench ${round}-${i}` }, ctx);
        times[mode].push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }
    await data.query('UPDATE webhook_endpoints SET enabled = false WHERE id = $1', [minting]);
    worker.onApplicationBootstrap();
    const stats = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p50: sorted[Math.floor(sorted.length / 2)]! };
    };
    const without = stats(times.without);
    const withEndpoint = stats(times.with);

    // Delivery: the mint deliveries first drain, then the measured batch.
    const mintDeliveries = MINTS / 2;
    const deadline = Date.now() + 120_000;
    while (received.size < mintDeliveries && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    received.clear();
    const target = await insertEndpoint(['*']);
    await seal(target);
    await data.query('UPDATE webhook_endpoints SET enabled = true WHERE id = $1', [target]);
    const outbox = app.get(EventsOutbox);
    const started = process.hrtime.bigint();
    for (let batch = 0; batch < EVENTS / 1000; batch++)
      await data.transaction((m) =>
        outbox.emitMany(
          m,
          Array.from({ length: 1000 }, (_, i) => ({
            type: 'api_key.revoked' as const,
            data: { keyId: `bench-${batch}-${i}`, reason: 'user' },
          })),
        ),
      );
    const written = Number(process.hrtime.bigint() - started) / 1e9;
    while (received.size < EVENTS && Date.now() < deadline + 600_000)
      await new Promise((r) => setTimeout(r, 10));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const duplicates = [...received.values()].filter((n) => n > 1).length;

    const fmt = (n: number) => n.toFixed(2);
    process.stdout.write(
      [
        `machine: ${cpus().length} cores, load ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
        `mint without endpoint: mean ${fmt(without.mean)} ms, p50 ${fmt(without.p50)} ms (${times.without.length})`,
        `mint with endpoint:    mean ${fmt(withEndpoint.mean)} ms, p50 ${fmt(withEndpoint.p50)} ms (${times.with.length})`,
        `mint cost ratio (mean): ${(withEndpoint.mean / without.mean).toFixed(3)}×, (p50): ${(withEndpoint.p50 / without.p50).toFixed(3)}×`,
        `delivery: ${EVENTS} events written in ${written.toFixed(2)} s, all received after ${seconds.toFixed(2)} s: ${(EVENTS / seconds).toFixed(0)} events/s (${received.size} received, ${duplicates} duplicated)`,
        `concurrency: ${process.env.WEBHOOK_CONCURRENCY ?? 'default 64'} per instance, ${process.env.WEBHOOK_CONCURRENCY_PER_ENDPOINT ?? 'default 16'} per endpoint`,
        '',
      ].join('\n'),
    );
  } finally {
    await app.close();
    receiver.close();
    await database.cleanup();
  }
}

runBenchmark(main);
