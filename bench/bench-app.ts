/**
 * The keysmith server of the benchmark: the real AppModule plus the benchmark's own controllers, with the
 * same pipeline as main.ts (`createApp`), listening on a free port of 127.0.0.1.
 */
import 'reflect-metadata';
import { Module, type Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from 'src/app.module';
import { createApp } from 'src/app.setup';
import { loadAppConfig } from 'src/app.registrations';
import { KeyUsageCounters } from 'src/key-usage/key-usage-counters';

export async function listenBenchApp(
  controllers: Type[],
): Promise<{ app: NestFastifyApplication; port: number }> {
  const config = loadAppConfig(process.env);
  @Module({ imports: [AppModule.forRoot({ config })], controllers })
  class BenchModule {}

  const app = await createApp(BenchModule, config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, port: address.port };
}

/** Switches the usage counters of resolves on or off: the benchmark's measure of what counting costs. */
export function setUsageCounting(app: NestFastifyApplication, on: boolean): void {
  app.get(KeyUsageCounters).setCounting(on);
}
