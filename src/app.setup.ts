import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
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

  app.use(app.get(MetricsService).middleware);

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
