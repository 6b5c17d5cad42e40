import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { HTTP_LOGGER } from 'src/logging/logging.module';
import { requestIdMiddleware } from 'src/logging/request-id';
import { MetricsService } from 'src/metrics/metrics.service';

export const BODY_LIMIT = 64 * 1024;

/**
 * Everything about the HTTP pipeline that is not a provider. `main.ts` and the e2e helper both call it, so
 * the tests exercise exactly what production runs.
 */
export function configureApp(app: NestExpressApplication): void {
  const config = app.get<AppConfig>(APP_CONFIG);
  app.useLogger(app.get(Logger));
  app.flushLogs();
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  // Every API answer is no-store and callers never revalidate: hashing each body for an ETag is wasted work.
  app.set('etag', false);

  // Ahead of everything else, so that a request the body parsers refuse still gets an id and a log line.
  app.use(requestIdMiddleware);
  app.use(app.get<RequestHandler>(HTTP_LOGGER));
  app.use(app.get(MetricsService).middleware);
  answerUnparsableRequests(app.getHttpServer());

  const apiHelmet = helmet();
  // Swagger UI needs its inline bootstrap script; everything else gets helmet's strict defaults.
  const docsHelmet = helmet({
    contentSecurityPolicy: {
      directives: {
        scriptSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'validator.swagger.io'],
      },
    },
  });
  app.use((req: Request, res: Response, next: NextFunction) =>
    req.path.startsWith('/api/docs') ? docsHelmet(req, res, next) : apiHelmet(req, res, next),
  );

  // Bodies of any type are capped at 64 KiB; JSON is parsed, anything else stays raw and fails validation.
  app.useBodyParser('json', { limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] });
  app.useBodyParser('urlencoded', { limit: BODY_LIMIT, extended: false });
  app.useBodyParser('raw', { limit: BODY_LIMIT, type: () => true });
  // A POST with no body at all (Content-Length: 0, no type) is an empty body, as `{}` would be.
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (Buffer.isBuffer(req.body) && req.body.length === 0) req.body = {};
    next();
  });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('keysmith')
      .setDescription(
        'Mints, verifies and revokes the secrets a platform hands out. Every error has the body ' +
          '`{"error":{"type","status","message","details?"}}`.',
      )
      .setVersion('1')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'Session JWT, org token or ADMIN_TOKEN' },
        'admin',
      )
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Session JWT' },
        'session',
      )
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'M2M JWT' }, 'm2m')
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}

/** The statuses Node's HTTP parser gives up with, as Node itself would answer them. */
function clientErrorAnswer(code: string | undefined): { status: number; reason: string; message: string } {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, reason: 'Request Header Fields Too Large', message: 'Request headers too large.' };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, reason: 'Request Timeout', message: 'Request timed out.' };
  }
  return { status: 400, reason: 'Bad Request', message: 'Malformed HTTP request.' };
}

/**
 * A request Node's HTTP parser refuses (a bad Content-Length, a broken request line) never reaches Express;
 * by default Node answers it with an empty body. It gets the contract's JSON error instead, then the
 * connection is closed. A socket that is gone, or already carries a response, is just destroyed.
 */
function answerUnparsableRequests(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node keeps the response in progress on the socket (null between keep-alive requests).
    const responseStarted = (socket as { _httpMessage?: unknown })._httpMessage != null;
    if (err.code === 'ECONNRESET' || !socket.writable || responseStarted) {
      socket.destroy();
      return;
    }
    const { status, reason, message } = clientErrorAnswer(err.code);
    const body = JSON.stringify({ error: { type: 'validation_failed', status, message } });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Cache-Control: no-store\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  });
}
