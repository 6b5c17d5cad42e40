import type { IncomingMessage } from 'node:http';
import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import { pinoHttp, type HttpLogger, type Options } from 'pino-http';
import type { AppConfig } from 'src/config/app-config';
import { redactingLoggerOptions } from 'src/logging/redaction';
import { existingRequestId } from 'src/logging/request-id';

/** The request-logging middleware; `configureApp` mounts it ahead of helmet and the body parsers. */
export const HTTP_LOGGER = Symbol('HTTP_LOGGER');

/** Probes and scrapes are not worth a log line each. Compared without the query string. */
const UNLOGGED_PATHS = new Set(['/health/live', '/metrics']);

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0] ?? '';
}

@Module({})
export class LoggingModule {
  /** `destination` lets tests capture every line the app writes (to scan it for secrets). */
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    const options = redactingLoggerOptions({ level: config.logLevel });
    const logger = destination ? pino(options, destination) : pino(options);
    const httpOptions: Options = {
      logger,
      genReqId: existingRequestId,
      // Bodies are never logged: they carry tokens and keys in both directions.
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          // Query strings can carry OAuth `token`/`state` on the provider callback.
          url: req.url.split('?')[0],
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      autoLogging: { ignore: (req) => UNLOGGED_PATHS.has(pathOf(req)) },
    };
    const httpLogger: HttpLogger = pinoHttp(httpOptions);
    return {
      module: LoggingModule,
      imports: [
        // The request logger runs first in the Express stack (see `configureApp`), so a request the body
        // parsers refuse is still logged. nestjs-pino only binds that logger to the request's context.
        LoggerModule.forRoot({ pinoHttp: httpOptions, useExisting: true }),
      ],
      providers: [{ provide: HTTP_LOGGER, useValue: httpLogger }],
      exports: [HTTP_LOGGER],
    };
  }
}
