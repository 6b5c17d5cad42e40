/**
 * The server side of `npm run bench:resolve` (bench/resolve.ts compiles and forks it): the real AppModule
 * plus a bare `@Public()` route, reporting memory and its own CPU time over IPC.
 */
import 'reflect-metadata';
import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiKeyCache } from 'src/api-key-resolution/api-key-cache';
import { Public } from 'src/auth/auth.decorators';
import { listenBenchApp } from './bench-app';

export interface ServerReport {
  /** V8 heap in use after a full GC. */
  heapUsed: number;
  rss: number;
  maxRss: number;
  cacheSize: number;
}

export type FromServer =
  { type: 'listening'; port: number } | ({ type: 'report' } & ServerReport) | { type: 'cpu'; micros: number };

/** The baseline: the same HTTP pipeline (helmet, metrics, logging, guards, body parsing), no work. */
@Controller('bench')
class BareController {
  @Public()
  @Post('bare')
  @HttpCode(200)
  bare(): { ok: true } {
    return { ok: true };
  }
}

async function runServer(): Promise<void> {
  const { app, port } = await listenBenchApp([BareController]);
  const cache = app.get(ApiKeyCache);
  const send = (msg: FromServer): void => void process.send!(msg);
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'report') {
      (globalThis as { gc?: () => void }).gc?.();
      send({
        type: 'report',
        heapUsed: process.memoryUsage().heapUsed,
        rss: process.memoryUsage().rss,
        maxRss: process.resourceUsage().maxRSS * 1024,
        cacheSize: cache.size,
      });
    }
    if (msg.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system });
    }
    if (msg.type === 'stop') void app.close().then(() => process.exit(0));
  });
  send({ type: 'listening', port });
}

void runServer();
