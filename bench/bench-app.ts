/**
 * Server side shared by the benchmarks: the real AppModule plus the benchmark's own controllers, with the
 * same pipeline as main.ts, listening on a free port of 127.0.0.1, logs discarded. Kept apart from
 * bench-kit.ts (the load side) so a server process loads nothing the app does not.
 */
import 'reflect-metadata';
import { Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Writable } from 'node:stream';
import { AppModule } from 'src/app.module';
import { configureApp } from 'src/app.setup';

export async function listenBenchApp(
  controllers: Type[],
): Promise<{ app: NestExpressApplication; port: number }> {
  const discard = new Writable({ write: (_c, _e, done) => done() });
  @Module({
    imports: [AppModule.forRoot({ env: process.env, logDestination: discard })],
    controllers,
  })
  class BenchModule {}

  const app = await NestFactory.create<NestExpressApplication>(BenchModule, {
    bodyParser: false,
    bufferLogs: true,
  });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, port: address.port };
}
