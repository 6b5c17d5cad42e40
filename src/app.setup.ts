import type { DynamicModule, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { LogController, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { appConfig, type AppConfig, type TrustProxy } from 'src/config/app-config';
import type { LoadedConfig } from 'src/config/config-slice';
import { errorBody } from 'src/errors/error-body';
import { BODY_LIMIT, registerBodyParsers } from 'src/http/body-parsing';
import { answerUnparsableRequest } from 'src/http/client-errors';
import { httpConfig, type HttpConfig } from 'src/http/http.config';
import { browserCors, isPreflight } from 'src/http/cors';
import { knownPaths } from 'src/http/method-not-allowed';
import { openApiDocument } from 'src/http/openapi-document';
import { callerRequestIdOf, requestIdOf } from 'src/http/request-id';
import { applySecurityHeaders } from 'src/http/security-headers';
import { AppLogger } from 'src/logging/app-logger';
import { REQUEST_LOGGER } from 'src/logging/logging.module';
import { registerRequestLogger } from 'src/logging/request-logger';
import { MetricsService } from 'src/metrics/metrics.service';

/**
 * The longest route parameter the router takes, counted as it arrives (percent-encoded): the longest id a
 * route has is 255 characters (an MCP server id), and one character (code point) is at most 4 UTF-8 bytes,
 * 12 characters once each byte is written `%XX`. Fastify's default of 100 answered 404 to ids it had stored.
 */
export const MAX_ROUTE_PARAM_LENGTH = 255 * 12;

/**
 * The HTTP edge, on Fastify: options that must be set when the server is created (body limit, client IP,
 * request ids, answers to requests Node cannot parse, timeouts and the connection cap), for main.ts, the
 * tests and the benchmarks alike.
 */
export function createAdapter(config: AppConfig, http: HttpConfig): FastifyAdapter {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxy(config.trustProxy),
    genReqId: requestIdOf,
    requestIdHeader: false,
    // Fastify's own request log lines stay off: the request logger (logging/request-logger.ts) writes one line.
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler: answerUnparsableRequest,
    // The router refuses a URL it cannot decode before any hook runs: the contract's error, with the headers
    // the hooks would have set.
    frameworkErrors: (_error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      applySecurityHeaders(request.url, reply.raw);
      void reply
        .code(400)
        .header('x-request-id', callerRequestIdOf(request) ?? request.id)
        .header('cache-control', 'no-store')
        .send(errorBody('validation_failed', 'Malformed URL.'));
    },
    // As Express routed: case-insensitive paths, a trailing slash ignored.
    routerOptions: {
      caseSensitive: false,
      ignoreTrailingSlash: true,
      maxParamLength: MAX_ROUTE_PARAM_LENGTH,
    },
    // A request still arriving after these is answered 408 by clientErrorHandler and its connection closed
    // (Fastify's own default is no request timeout at all). Node checks its connections for them every
    // `connectionsCheckingInterval` (30 s by default, so a timeout could run up to 30 s late).
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    http: {
      requestTimeout: http.requestTimeoutMs,
      headersTimeout: http.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, http.headersTimeoutMs),
    },
  });
  // Past the cap, Node closes a new connection as soon as it is accepted.
  adapter.getHttpServer().maxConnections = http.maxConnections;
  return adapter;
}

/**
 * TRUST_PROXY, with Express's grammar (proxy-addr): true/false, addresses, CIDRs and names, or a hop count —
 * which Fastify 5 takes as "trust nothing" (it fails closed), so it becomes a function: the `n` nearest hops.
 */
function trustProxy(value: TrustProxy): boolean | string | ((address: string, hop: number) => boolean) {
  if (value === undefined) return false;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return value;
}

/**
 * Creates the application on `rootModule` with the production pipeline: main.ts, the e2e helper and the
 * benchmarks all start keysmith through here, so the tests run exactly what production runs.
 */
export async function createApp(
  rootModule: Type | DynamicModule,
  config: LoadedConfig,
): Promise<NestFastifyApplication> {
  const adapter = createAdapter(config.get(appConfig), config.get(httpConfig));
  const app = await NestFactory.create<NestFastifyApplication>(rootModule, adapter, {
    bodyParser: false,
    bufferLogs: true,
    // Startup errors (a failed migration, say) are thrown to the caller, which reports them once.
    abortOnError: false,
  });
  configureApp(app, config.get(appConfig));
  return app;
}

/** Everything about the HTTP pipeline that is not a provider or an adapter option, in the order it runs. */
function configureApp(app: NestFastifyApplication, config: AppConfig): void {
  app.useLogger(app.get(AppLogger));
  app.flushLogs();
  const instance = app.getHttpAdapter().getInstance();

  // First, so that a request refused before routing (a bad body, a body over the limit) still carries its id
  // and the security headers.
  instance.decorateRequest('callerRequestId', null);
  // Before any route is registered: they collect them as they are.
  const known = knownPaths(instance);
  const cors = browserCors(instance, config.settingsUiOrigins, known);
  instance.addHook('onRequest', (request, reply, done) => {
    const caller = callerRequestIdOf(request);
    request.callerRequestId = caller;
    reply.header('x-request-id', caller ?? request.id);
    applySecurityHeaders(request.url, reply.raw);
    if (!request.is404) return done();
    // No route serves OPTIONS: a preflight to a served path is answered here, before guards and limits.
    if (isPreflight(request) && cors.preflight(request, reply)) return;
    // An unmatched request whose path is served with other methods: 405, before its body is read.
    done(known.methodNotAllowed(request, reply));
  });
  registerBodyParsers(instance);
  registerRequestLogger(instance, app.get(REQUEST_LOGGER));
  app.get(MetricsService).register(instance);

  const document = openApiDocument(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
