import { loadSlice } from 'src/config/config-slice';
import { type ConfigValidationError, type Env } from 'src/config/env-reader';
import { eventsConfig, parseDuration, parseRetrySchedule } from 'src/events/events.config';

const problems = (env: Env): string[] => {
  try {
    loadSlice(eventsConfig, env);
    return [];
  } catch (err) {
    return (err as ConfigValidationError).problems;
  }
};

describe('events config', () => {
  it('defaults: the contract schedule, a 7-day lead, no allowed hosts, 10 s timeouts', () => {
    const config = loadSlice(eventsConfig, {});
    expect(config.retryScheduleMs).toEqual([
      5_000, 30_000, 120_000, 600_000, 3_600_000, 14_400_000, 43_200_000,
    ]);
    expect(config.expiringLeadMs).toBe(7 * 86_400_000);
    expect([...config.allowedHosts]).toEqual([]);
    expect(config.timeoutMs).toBe(10_000);
    expect(config.requireHttps).toBe(false);
    expect(config.allowLoopback).toBe(true);
    expect(config.retentionDays).toBe(30);
  });

  it('production: https required, no loopback, and neither can be turned around', () => {
    const config = loadSlice(eventsConfig, { NODE_ENV: 'production' });
    expect(config).toMatchObject({ requireHttps: true, allowLoopback: false });
    expect(
      problems({ NODE_ENV: 'production', WEBHOOK_REQUIRE_HTTPS: 'false', WEBHOOK_ALLOW_LOOPBACK: 'true' }),
    ).toEqual([
      'WEBHOOK_REQUIRE_HTTPS cannot be turned off in production',
      expect.stringMatching(/^WEBHOOK_ALLOW_LOOPBACK cannot be turned on in production/),
    ]);
  });

  it('reads a schedule, a lead and hosts as a URL spells them', () => {
    const config = loadSlice(eventsConfig, {
      WEBHOOK_RETRY_SCHEDULE: '1s, 2m,3h,1d',
      WEBHOOK_EXPIRING_LEAD: '48h',
      WEBHOOK_ALLOWED_HOSTS: 'Hooks.Internal,10.0.0.5,::1',
    });
    expect(config.retryScheduleMs).toEqual([1_000, 120_000, 10_800_000, 86_400_000]);
    expect(config.expiringLeadMs).toBe(48 * 3_600_000);
    expect([...config.allowedHosts]).toEqual(['hooks.internal', '10.0.0.5', '[::1]']);
  });

  it.each([
    ['an empty schedule entry', { WEBHOOK_RETRY_SCHEDULE: '5s,,1m' }],
    ['a delay under 1s', { WEBHOOK_RETRY_SCHEDULE: '0s' }],
    ['a delay without unit', { WEBHOOK_RETRY_SCHEDULE: '3' }],
    ['21 delays', { WEBHOOK_RETRY_SCHEDULE: Array(21).fill('1s').join(',') }],
    ['a lead of 0', { WEBHOOK_EXPIRING_LEAD: '0h' }],
    ['a lead over 90 days', { WEBHOOK_EXPIRING_LEAD: '91d' }],
    ['a host with a scheme', { WEBHOOK_ALLOWED_HOSTS: 'https://hooks.internal' }],
    ['a timeout under 100 ms', { WEBHOOK_TIMEOUT_MS: '99' }],
  ])('refuses %s, naming the variable and never its value', (_label, env: Env) => {
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^WEBHOOK_/);
    for (const value of Object.values(env)) expect(found[0]).not.toContain(value);
  });

  it('reads EVENTS_RETENTION_DAYS from 1 to 3650 and refuses anything else, naming it only', () => {
    expect(loadSlice(eventsConfig, { EVENTS_RETENTION_DAYS: '1' }).retentionDays).toBe(1);
    expect(loadSlice(eventsConfig, { EVENTS_RETENTION_DAYS: '3650' }).retentionDays).toBe(3650);
    for (const bad of ['0', '3651', '-1', '7.5', '30d', 'forever']) {
      expect(problems({ EVENTS_RETENTION_DAYS: bad })).toEqual([
        'EVENTS_RETENTION_DAYS must be an integer from 1 to 3650',
      ]);
    }
  });

  it('parses durations and schedules', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1w')).toBeUndefined();
    expect(parseRetrySchedule('1s')).toEqual([1_000]);
    expect(typeof parseRetrySchedule('500ms')).toBe('string');
  });
});
