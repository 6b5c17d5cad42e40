import { defineConfig } from 'src/config/config-slice';
import type { EnvReader } from 'src/config/env-reader';
import { normalizeHost } from 'src/http/outbound-address';

export interface EventsConfig {
  /** WEBHOOK_RETRY_SCHEDULE: the delay (ms) before each retry; after the last one a delivery is `failed`. */
  retryScheduleMs: readonly number[];
  /** WEBHOOK_EXPIRING_LEAD: how long (ms) before a key's `expiresAt` its `expiring` event fires. */
  expiringLeadMs: number;
  /** WEBHOOK_ALLOWED_HOSTS: hosts (as a URL spells them) webhooks may reach whatever address they resolve to. */
  allowedHosts: ReadonlySet<string>;
  /**
   * WEBHOOK_REQUIRE_HTTPS: only `https` URLs, except for a host in WEBHOOK_ALLOWED_HOSTS, or a loopback host
   * where WEBHOOK_ALLOW_LOOPBACK. Always on in production, as for token endpoints.
   */
  requireHttps: boolean;
  /** WEBHOOK_ALLOW_LOOPBACK: loopback receivers (development and tests); never in production. */
  allowLoopback: boolean;
  /** WEBHOOK_TIMEOUT_MS: one attempt's whole deadline (resolve, connect, send, answer). */
  timeoutMs: number;
  /** WEBHOOK_POLL_INTERVAL_MS: how often each instance looks for due deliveries when idle. */
  pollIntervalMs: number;
  /** WEBHOOK_CONCURRENCY: attempts one instance makes at once. */
  concurrency: number;
  /** WEBHOOK_CONCURRENCY_PER_ENDPOINT: of those, how many may go to one endpoint at once. */
  concurrencyPerEndpoint: number;
  /** WEBHOOK_SWEEP_INTERVAL_SECONDS: how often the `expiring`/`expired` sweep runs (one instance at a time). */
  sweepIntervalSeconds: number;
  /**
   * EVENTS_RETENTION_DAYS: events older than this whose deliveries are all finished are deleted; one with a
   * dedup key is kept at least DEDUP_HORIZON_MS (decision 0115).
   */
  retentionDays: number;
}

export const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,1h,4h,12h';
export const DEFAULT_EXPIRING_LEAD = '7d';
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_EVENTS_RETENTION_DAYS = 30;
/** The longest WEBHOOK_EXPIRING_LEAD accepted. */
export const MAX_EXPIRING_LEAD_MS = 90 * 86_400_000;
/**
 * How long an event with a dedup key is kept at least, whatever EVENTS_RETENTION_DAYS says: past the longest
 * lead (and a day for clocks), no sweep can pick its subject again, under any configuration (decision 0115).
 */
export const DEDUP_HORIZON_MS = MAX_EXPIRING_LEAD_MS + 86_400_000;
const MAX_RETRIES = 20;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `2m`, `4h`, `7d` in ms; undefined when not of that form. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,7})(s|m|h|d)$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** The schedule's delays in ms, or a problem: 1 to 20 delays, each at least `1s`. */
export function parseRetrySchedule(text: string): number[] | string {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length < 1 || parts.length > MAX_RETRIES)
    return `must list 1 to ${MAX_RETRIES} delays (e.g. ${DEFAULT_RETRY_SCHEDULE})`;
  const delays = parts.map(parseDuration);
  if (delays.some((d) => d === undefined || d < 1000))
    return 'must be delays like 5s, 2m, 1h or 1d, each at least 1s';
  return delays as number[];
}

export const eventsConfig = defineConfig('events', (env): EventsConfig => {
  const requireHttps = env.bool('WEBHOOK_REQUIRE_HTTPS', env.isProduction);
  if (env.isProduction && !requireHttps)
    env.problem('WEBHOOK_REQUIRE_HTTPS cannot be turned off in production');
  const allowLoopback = env.bool('WEBHOOK_ALLOW_LOOPBACK', !env.isProduction);
  if (env.isProduction && allowLoopback)
    env.problem(
      'WEBHOOK_ALLOW_LOOPBACK cannot be turned on in production (name the hosts in WEBHOOK_ALLOWED_HOSTS)',
    );
  const concurrency = env.int('WEBHOOK_CONCURRENCY', 64, 1, 1000);
  return {
    retryScheduleMs: retrySchedule(env),
    expiringLeadMs: expiringLead(env),
    allowedHosts: new Set(allowedHosts(env)),
    requireHttps,
    allowLoopback,
    timeoutMs: env.int('WEBHOOK_TIMEOUT_MS', DEFAULT_WEBHOOK_TIMEOUT_MS, 100, 60_000),
    pollIntervalMs: env.int('WEBHOOK_POLL_INTERVAL_MS', 1000, 10, 60_000),
    concurrency,
    concurrencyPerEndpoint: Math.min(concurrency, env.int('WEBHOOK_CONCURRENCY_PER_ENDPOINT', 16, 1, 1000)),
    sweepIntervalSeconds: env.int('WEBHOOK_SWEEP_INTERVAL_SECONDS', 60, 1, 86_400),
    retentionDays: env.int('EVENTS_RETENTION_DAYS', DEFAULT_EVENTS_RETENTION_DAYS, 1, 3650),
  };
});

function retrySchedule(env: EnvReader): number[] {
  const parsed = parseRetrySchedule(env.str('WEBHOOK_RETRY_SCHEDULE') ?? DEFAULT_RETRY_SCHEDULE);
  if (typeof parsed === 'string') {
    env.problem(`WEBHOOK_RETRY_SCHEDULE ${parsed}`);
    return parseRetrySchedule(DEFAULT_RETRY_SCHEDULE) as number[];
  }
  return parsed;
}

function expiringLead(env: EnvReader): number {
  const raw = env.str('WEBHOOK_EXPIRING_LEAD') ?? DEFAULT_EXPIRING_LEAD;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < 60_000 || ms > MAX_EXPIRING_LEAD_MS) {
    env.problem('WEBHOOK_EXPIRING_LEAD must be a duration from 1m to 90d (e.g. 7d, 48h)');
    return parseDuration(DEFAULT_EXPIRING_LEAD)!;
  }
  return ms;
}

function allowedHosts(env: EnvReader): string[] {
  const hosts: string[] = [];
  (env.list('WEBHOOK_ALLOWED_HOSTS') ?? []).forEach((entry, i) => {
    const host = normalizeHost(entry);
    if (host === undefined)
      env.problem(`WEBHOOK_ALLOWED_HOSTS[${i}] must be a host name or an IP address (no scheme or port)`);
    else hosts.push(host);
  });
  return hosts;
}
