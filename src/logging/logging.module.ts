import { Global, Module, type DynamicModule } from '@nestjs/common';
import pino, { type DestinationStream, type Logger as Pino } from 'pino';
import type { AppConfig } from 'src/config/app-config';
import { AppLogger } from 'src/logging/app-logger';
import { redactingLoggerOptions } from 'src/logging/redaction';

/** This app's pino logger (every line censored, see redaction.ts). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/**
 * Logging: one pino logger per app (tests run several apps in one process, each with its own destination),
 * Nest's logger on top of it (`AppLogger`, installed by `configureApp`), and the request log (hooks added by
 * `configureApp`, see request-logger.ts).
 */
@Global()
@Module({})
export class LoggingModule {
  /** `destination` lets tests capture every line the app writes (to scan it for secrets). */
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    const options = redactingLoggerOptions({ level: config.logLevel });
    const logger: Pino = destination ? pino(options, destination) : pino(options);
    return {
      module: LoggingModule,
      providers: [
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: AppLogger, useValue: new AppLogger(logger) },
      ],
      exports: [ROOT_LOGGER, AppLogger],
    };
  }
}
