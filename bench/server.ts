/**
 * The server side of `npm run bench` (bench/run.ts compiles it with the app and forks it once per server):
 * `node server.js <kind>` listens on a free port of 127.0.0.1, reports `{type: 'listening', port}`, and
 * answers `cpu` (its own CPU time so far, µs), `report` (memory), `alternate` and `alternated` (keysmith only:
 * switch the usage counters of resolves on and off every `periodMs` from now on, then stop, counting on again,
 * and tell the CPU time and requests of each state: what counting costs; never off in the service) and `stop`
 * over IPC.
 *
 * Kinds: `node-http` (bare node:http answering the same JSON), `nest-fastify` and `nest-express` (a bare
 * NestJS route, nothing else), `keysmith` (the real AppModule through createApp, as main.ts runs it).
 */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer } from 'node:http';
import { getHeapStatistics } from 'node:v8';

export type FromServer =
  | { type: 'listening'; port: number }
  | { type: 'cpu'; micros: number; systemMicros: number }
  | { type: 'alternate' }
  | { type: 'alternated'; on: Share; off: Share; periods: number }
  | {
      type: 'report';
      rss: number;
      maxRss: number;
      heapUsed: number;
      /** The largest V8 heap (reserved, `heapTotal`) and off-heap memory (`external`) sampled every 100 ms. */
      maxHeapTotal: number;
      maxExternal: number;
    };

/** What the server spent, and served, with usage counting in one state (`alternate`). */
export interface Share {
  /** CPU time, user and system, µs. */
  micros: number;
  requests: number;
}

const BODY = JSON.stringify({ status: 'ok' });

@Controller()
class BareController {
  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

async function listen(kind: string): Promise<{
  port: number;
  close(): Promise<unknown>;
  setCounting?(on: boolean): void;
  /** Requests received so far (keysmith only). */
  requests?(): number;
}> {
  switch (kind) {
    case 'node-http': {
      const server = createServer((_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': BODY.length,
        });
        res.end(BODY);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        port: (server.address() as { port: number }).port,
        close: () => new Promise((r) => server.close(r)),
      };
    }
    case 'nest-fastify': {
      const { FastifyAdapter } = await import('@nestjs/platform-fastify');
      const app = await NestFactory.create(BareModule, new FastifyAdapter(), { logger: false });
      await app.listen(0, '127.0.0.1');
      return { port: (app.getHttpServer().address() as { port: number }).port, close: () => app.close() };
    }
    case 'nest-express': {
      const { ExpressAdapter } = await import('@nestjs/platform-express');
      const app = await NestFactory.create(BareModule, new ExpressAdapter(), { logger: false });
      await app.listen(0, '127.0.0.1');
      return { port: (app.getHttpServer().address() as { port: number }).port, close: () => app.close() };
    }
    case 'keysmith': {
      const { listenBenchApp, setUsageCounting } = await import('./bench-app.js');
      const { app, port } = await listenBenchApp([]);
      let requests = 0;
      (app.getHttpServer() as { on(event: 'request', listener: () => void): void }).on(
        'request',
        () => requests++,
      );
      return {
        port,
        close: () => app.close(),
        setCounting: (on: boolean) => setUsageCounting(app, on),
        requests: () => requests,
      };
    }
    default:
      throw new Error(`unknown server kind ${kind}`);
  }
}

/**
 * Usage counting switched on and off every `periodMs` while the client's load runs, each period's CPU time and
 * requests added to its state's share: both states sample the same seconds, so the machine's drift (other
 * work, timers, GC) falls on both alike, and a few hundred periods average out what one period's noise is.
 */
class Alternation {
  private readonly shares: Record<'on' | 'off', Share> = {
    on: { micros: 0, requests: 0 },
    off: { micros: 0, requests: 0 },
  };
  private on = true;
  private periods = 0;
  private mark: Share;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly setCounting: (on: boolean) => void,
    private readonly requests: () => number,
    periodMs: number,
  ) {
    this.setCounting(true);
    this.mark = Alternation.now(requests);
    this.timer = setInterval(() => this.switch(), periodMs);
  }

  private static now(requests: () => number): Share {
    const { user, system } = process.cpuUsage();
    return { micros: user + system, requests: requests() };
  }

  /** Ends a period: its share goes to the state it ran in, except the first (the load was still starting). */
  private switch(): void {
    const now = Alternation.now(this.requests);
    if (this.periods++ > 0) {
      const share = this.shares[this.on ? 'on' : 'off'];
      share.micros += now.micros - this.mark.micros;
      share.requests += now.requests - this.mark.requests;
    }
    this.mark = now;
    this.on = !this.on;
    this.setCounting(this.on);
  }

  /** The shares of the whole periods after the first; the period under way (the load ending) is left out. */
  stop(): { on: Share; off: Share; periods: number } {
    clearInterval(this.timer);
    this.setCounting(true);
    return { ...this.shares, periods: Math.max(0, this.periods - 1) };
  }
}

async function main(): Promise<void> {
  const server = await listen(process.argv[2] ?? '');
  let maxHeapTotal = 0;
  let maxExternal = 0;
  // V8's own figures: cheaper than process.memoryUsage(), which also reads the RSS from /proc.
  setInterval(() => {
    const { total_heap_size, external_memory } = getHeapStatistics();
    maxHeapTotal = Math.max(maxHeapTotal, total_heap_size);
    maxExternal = Math.max(maxExternal, external_memory);
  }, 100).unref();
  const send = (msg: FromServer): void => void process.send!(msg);
  let alternation: Alternation | undefined;
  process.on('message', (msg: { type: string; periodMs?: number }) => {
    if (msg.type === 'alternate' && server.setCounting && server.requests) {
      alternation = new Alternation(server.setCounting, server.requests, msg.periodMs ?? 250);
      send({ type: 'alternate' });
    } else if (msg.type === 'alternated' && alternation) {
      send({ type: 'alternated', ...alternation.stop() });
      alternation = undefined;
    } else if (msg.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system, systemMicros: system });
    } else if (msg.type === 'report') {
      (globalThis as { gc?: () => void }).gc?.();
      const memory = process.memoryUsage();
      send({
        type: 'report',
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        maxRss: process.resourceUsage().maxRSS * 1024,
        maxHeapTotal,
        maxExternal,
      });
    } else if (msg.type === 'stop') {
      void server.close().then(() => process.exit(0));
    }
  });
  send({ type: 'listening', port: server.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
