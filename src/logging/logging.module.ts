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
const LOG_OUTPUT = Symbol('LOG_OUTPUT');

/** How long a line may wait in the stdout buffer on a quiet instance before it is written anyway. */
const FLUSH_INTERVAL_MS = 1_000;

interface LogOutput {
  stream: DestinationStream;
  /** Writes what is buffered and stops the periodic flush. */
  close(): void;
}

/**
 * Standard output, written in chunks of at least 4 KiB off the request path (a write per request line cost
 * more than the rest of a light request). A line written on a quiet instance is flushed within a second, so
 * start-up warnings and rare errors do not wait for 4 KiB of company; everything is flushed synchronously at
 * shutdown.
 */
function bufferedStdout(): LogOutput {
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  let pending = false;
  const timer = setInterval(() => {
    if (!pending) return;
    pending = false;
    stdout.flush();
  }, FLUSH_INTERVAL_MS);
  timer.unref();
  return {
    stream: {
      write(line: string) {
        pending = true;
        return stdout.write(line);
      },
    },
    close() {
      clearInterval(timer);
      stdout.flushSync();
    },
  };
}

/**
 * Logging: one pino logger per app (tests run several apps in one process, each with its own destination),
 * Nest's logger on top of it (`AppLogger`, installed by `configureApp`), and the request log (hooks added by
 * `configureApp`, see request-logger.ts).
 */
@Global()
@Module({})
export class LoggingModule implements OnApplicationShutdown {
  constructor(@Inject(LOG_OUTPUT) private readonly output: LogOutput | null) {}

  onApplicationShutdown(): void {
    this.output?.close();
  }

  /** `destination` lets tests capture every line the app writes (to scan it for secrets). */
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    const stdout = destination ? undefined : bufferedStdout();
    const out: DestinationStream = destination ?? stdout!.stream;
    const logger: Pino = pino(redactingLoggerOptions({ level: config.logLevel }), out);
    const requests: Pino = pino({ level: config.logLevel }, out);
    return {
      module: LoggingModule,
      providers: [
        { provide: LOG_OUTPUT, useValue: stdout ?? null },
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: REQUEST_LOGGER, useValue: requests },
        { provide: AppLogger, useValue: new AppLogger(logger) },
      ],
      exports: [ROOT_LOGGER, REQUEST_LOGGER, AppLogger],
    };
  }
}
