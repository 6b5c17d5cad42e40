import { Injectable } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * One registry per app instance (not prom-client's global one), so several instances in one process —
 * as the e2e suite runs them — do not collide.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /** The label children of each method, route and status seen: prom-client hashes a label set per call. */
  private readonly series = new Map<
    string,
    { requests: Counter.Internal; duration: Histogram.Internal<string> }
  >();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Records every response once it has been sent, labelled by its route template — never the raw path: ids
   * would make the label set unbounded. Unmatched requests (404s, requests refused before routing) share
   * one label.
   */
  register(instance: FastifyInstance): void {
    instance.addHook('onResponse', (request, reply, done) => {
      const template = request.is404 ? undefined : request.routeOptions.url;
      const route = template && !template.includes('*') ? template : 'unmatched';
      const key = `${request.method} ${route} ${reply.statusCode}`;
      let series = this.series.get(key);
      if (!series) {
        const labels = { method: request.method, route, status: String(reply.statusCode) };
        series = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
        this.series.set(key, series);
      }
      series.requests.inc();
      series.duration.observe(reply.elapsedTime / 1000);
      done();
    });
  }
}
