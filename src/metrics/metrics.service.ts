import { Inject, Injectable, Optional } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { poolStats } from 'src/database/prepared-query';
import { RevocationFeed } from 'src/database/revocation-feed';
import { RedisRateLimitStorage } from 'src/rate-limit/redis-rate-limit-storage';

/**
 * The operator metrics beyond HTTP (decision 0105, docs/operations.md#metrics). Counters the hot path feeds
 * are plain numbers in their owners, read here when /metrics is scraped; only the barrier histogram is
 * observed as it happens. No label has more values than there are caches or states.
 */
export const OPERATOR_METRICS = [
  'keysmith_cache_lookups_total',
  'keysmith_cache_entries',
  'keysmith_revocation_barrier_wait_seconds',
  'keysmith_revocation_feed_listening',
  'keysmith_revocation_feed_lag_seconds',
  'keysmith_revocation_feed_staleness_seconds',
  'keysmith_revocation_feed_reconnects_total',
  'keysmith_db_pool_connections',
  'keysmith_db_pool_waiters',
  'keysmith_rate_limit_storage_degraded',
  'keysmith_rate_limit_storage_fallbacks_total',
  'keysmith_rate_limit_fallback_counts_total',
] as const;

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

  constructor(
    @Optional() feed?: RevocationFeed,
    @Optional() dataSource?: DataSource,
    @Optional() @Inject(ThrottlerStorage) storage?: ThrottlerStorage,
  ) {
    collectDefaultMetrics({ register: this.registry });
    this.caches(feed);
    this.feed(feed);
    this.pool(dataSource);
    this.rateLimitStorage(storage instanceof RedisRateLimitStorage ? storage : undefined);
  }

  /** Hits and misses of each revocable cache (`cache`: its channel's name, `api_key` or `org_token`). */
  private caches(feed: RevocationFeed | undefined): void {
    const stats = () =>
      [...(feed?.subscribed() ?? [])].flatMap(([channel, listener]) => {
        const numbers = listener.stats?.();
        const cache = channel.replace(/^keysmith_/, '').replace(/_revoked$/, '');
        return numbers ? [{ cache, ...numbers }] : [];
      });
    new Counter({
      name: 'keysmith_cache_lookups_total',
      help: 'Credential cache lookups by cache and result (hit: answered from the cache; miss: asked the database)',
      labelNames: ['cache', 'result'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { cache, hits, misses } of stats()) {
          this.inc({ cache, result: 'hit' }, hits);
          this.inc({ cache, result: 'miss' }, misses);
        }
      },
    });
    new Gauge({
      name: 'keysmith_cache_entries',
      help: 'Entries held by each credential cache',
      labelNames: ['cache'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { cache, entries } of stats()) this.set({ cache }, entries);
      },
    });
  }

  /** The revocation feed: barrier waits (observed as they end), lag, staleness, reconnects. */
  private feed(feed: RevocationFeed | undefined): void {
    const barrier = new Histogram({
      name: 'keysmith_revocation_barrier_wait_seconds',
      help: 'How long a cached answer waited for the revocation feed barrier (decision 0009), by whether it passed',
      labelNames: ['passed'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [this.registry],
    });
    const passed = barrier.labels({ passed: 'true' });
    const notPassed = barrier.labels({ passed: 'false' });
    const lag = new Gauge({
      name: 'keysmith_revocation_feed_lag_seconds',
      help: 'Round trip of the newest mark the revocation feed sent itself: how late a revocation reaches this instance',
      registers: [this.registry],
    });
    const reconnects = new Counter({
      name: 'keysmith_revocation_feed_reconnects_total',
      help: 'Times the revocation feed connected again after losing its connection',
      registers: [this.registry],
    });
    new Gauge({
      name: 'keysmith_revocation_feed_listening',
      help: '1 while the revocation feed is connected and receiving (caches may answer), else 0',
      registers: [this.registry],
      collect() {
        this.set(feed?.listening ? 1 : 0);
      },
    });
    new Gauge({
      name: 'keysmith_revocation_feed_staleness_seconds',
      help: 'Seconds since the newest mark that came back was sent (0 while disconnected)',
      registers: [this.registry],
      collect() {
        this.set(feed?.staleness ?? 0);
      },
    });
    feed?.observe({
      barrierWaited: (seconds, ok) => (ok ? passed : notPassed).observe(seconds),
      markReturned: (seconds) => lag.set(seconds),
      reconnected: () => reconnects.inc(),
    });
  }

  /** The connection pool of DATABASE_URL. */
  private pool(dataSource: DataSource | undefined): void {
    const read = () => (dataSource?.isInitialized ? poolStats(dataSource) : undefined);
    new Gauge({
      name: 'keysmith_db_pool_connections',
      help: 'Connections of the database pool by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const stats = read();
        this.set({ state: 'idle' }, stats?.idle ?? 0);
        this.set({ state: 'busy' }, stats ? stats.total - stats.idle : 0);
      },
    });
    new Gauge({
      name: 'keysmith_db_pool_waiters',
      help: 'Queries queueing for a database pool connection',
      registers: [this.registry],
      collect() {
        this.set(read()?.waiting ?? 0);
      },
    });
  }

  /** The shared (Redis) rate-limit storage and its in-memory fallback; zeros when counts live in memory. */
  private rateLimitStorage(storage: RedisRateLimitStorage | undefined): void {
    new Gauge({
      name: 'keysmith_rate_limit_storage_degraded',
      help: '1 while Redis does not answer and rate limits are counted per instance, else 0',
      registers: [this.registry],
      collect() {
        this.set(storage?.stats.degraded ? 1 : 0);
      },
    });
    new Counter({
      name: 'keysmith_rate_limit_storage_fallbacks_total',
      help: 'Times the rate-limit storage (Redis) became unavailable and counts fell back to memory',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(storage?.stats.fallbacks ?? 0);
      },
    });
    new Counter({
      name: 'keysmith_rate_limit_fallback_counts_total',
      help: 'Rate-limit counts made in this instance’s memory because Redis did not answer',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(storage?.stats.fallbackCounts ?? 0);
      },
    });
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
