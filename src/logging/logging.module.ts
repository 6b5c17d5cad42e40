import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import type { AppConfig } from 'src/config/app-config';
import { REDACT_PATHS } from 'src/logging/redaction';
import { assignRequestId } from 'src/logging/request-id';

function withDestination(
  options: Options,
  destination?: DestinationStream,
): Options | [Options, DestinationStream] {
  return destination ? [options, destination] : options;
}

@Module({})
export class LoggingModule {
  /** `destination` lets tests capture every line the app writes (to scan it for secrets). */
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: withDestination(
            {
              level: config.logLevel,
              redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
              genReqId: assignRequestId,
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
              autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
            },
            destination,
          ),
        }),
      ],
    };
  }
}
