import { defineConfig } from 'src/config/config-slice';

export interface KeyUsageConfig {
  /** USAGE_FLUSH_INTERVAL_SECONDS: how often each instance writes its counts (at most this much is lost on a crash). */
  flushIntervalSeconds: number;
  /** USAGE_RETENTION_DAYS: hour buckets older than this are deleted. */
  retentionDays: number;
}

export const KEY_USAGE_DEFAULTS: KeyUsageConfig = { flushIntervalSeconds: 10, retentionDays: 90 };

export const keyUsageConfig = defineConfig('key-usage', (env): KeyUsageConfig => ({
  flushIntervalSeconds: env.int(
    'USAGE_FLUSH_INTERVAL_SECONDS',
    KEY_USAGE_DEFAULTS.flushIntervalSeconds,
    1,
    300,
  ),
  retentionDays: env.int('USAGE_RETENTION_DAYS', KEY_USAGE_DEFAULTS.retentionDays, 1, 3650),
}));
