import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import pino, { type DestinationStream, type Logger as Pino } from 'pino';
import type { AppConfig } from 'src/config/app-config';
import { AppLogger } from 'src/logging/app-logger';
import { redactingLoggerOptions } from 'src/logging/redaction';

/** This app's pino logger (every line censored, see redaction.ts). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
/**
 * The request log's pino logger, on the same destination: without the redaction walk, because the one line
 * it writes per request holds only fields the request logger picked (request id, method, path without its
 * query, address, status, time), never a header, a body or a query string. See request-logger.ts.
 */
export const REQUEST_LOGGER = Symbol('REQUEST_LOGGER');
const LOG_STDOUT = Symbol('LOG_STDOUT');
type Stdout = ReturnType<typeof pino.destination>;

/**
 * Standard output, written in chunks of at least 4 KiB off the request path (a write per request line cost
 * more than the rest of a light request). What is buffered is also written every second, so a quiet
 * instance's start-up warnings and rare errors do not wait for 4 KiB of company (sonic-boom's own timer:
 * unref'd, and it retries at the next tick when a write was in progress); shutdown flushes synchronously.
 */
function bufferedStdout(): Stdout {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 1_000 });
}

/**
 * Logging: one pino logger per app (tests run several apps in one process, each with its own destination),
 * Nest's logger on top of it (`AppLogger`, installed by `configureApp`), and the request log (hooks added by
 * `configureApp`, see request-logger.ts).
 */
@Global()
@Module({})
export class LoggingModule implements OnApplicationShutdown {
  constructor(@Inject(LOG_STDOUT) private readonly stdout: Stdout | null) {}

  onApplicationShutdown(): void {
    this.stdout?.flushSync();
  }

  /** `destination` lets tests capture every line the app writes (to scan it for secrets). */
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    const stdout = destination ? undefined : bufferedStdout();
    const out: DestinationStream = destination ?? stdout!;
    const logger: Pino = pino(redactingLoggerOptions({ level: config.logLevel }), out);
    const requests: Pino = pino({ level: config.logLevel }, out);
    return {
      module: LoggingModule,
      providers: [
        { provide: LOG_STDOUT, useValue: stdout ?? null },
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: REQUEST_LOGGER, useValue: requests },
        { provide: AppLogger, useValue: new AppLogger(logger) },
      ],
      exports: [ROOT_LOGGER, REQUEST_LOGGER, AppLogger],
    };
  }
}
