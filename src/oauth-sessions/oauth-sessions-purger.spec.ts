import { Logger } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { OAUTH_SESSION_DEFAULTS } from 'src/oauth-sessions/oauth-sessions.config';
import type { OAuthSessionsRepository } from 'src/oauth-sessions/oauth-sessions.repository';
import { OAuthSessionsPurger, PURGE_LOCK_KEY } from 'src/oauth-sessions/oauth-sessions-purger';

beforeAll(() => Logger.overrideLogger(false));

describe('OAuthSessionsPurger', () => {
  const manager = {} as EntityManager;
  const dataSource = {
    transaction: (work: (m: EntityManager) => unknown) => work(manager),
  } as unknown as DataSource;

  function purger(locked = true) {
    const sessions = {
      tryPurgeLock: jest.fn(async () => locked),
      expireAll: jest.fn(async () => 2),
      deleteExpiredBefore: jest.fn(async () => 3),
    };
    const config = { ...OAUTH_SESSION_DEFAULTS, purgeIntervalSeconds: 300, retentionSeconds: 60 };
    return {
      sessions,
      purger: new OAuthSessionsPurger(dataSource, config, sessions as unknown as OAuthSessionsRepository),
    };
  }

  afterEach(() => jest.useRealTimers());

  it('expires, then deletes past the retention, under the purge lock', async () => {
    const { purger: p, sessions } = purger();
    await expect(p.purge()).resolves.toEqual({ skipped: false, expired: 2, deleted: 3 });
    expect(sessions.tryPurgeLock).toHaveBeenCalledWith(PURGE_LOCK_KEY, manager);
    expect(sessions.deleteExpiredBefore).toHaveBeenCalledWith(60, expect.any(Number), manager);
  });

  it('skips when another instance holds the lock', async () => {
    const { purger: p, sessions } = purger(false);
    await expect(p.purge()).resolves.toEqual({ skipped: true, expired: 0, deleted: 0 });
    expect(sessions.expireAll).not.toHaveBeenCalled();
  });

  it('shares a run under way instead of starting a second', async () => {
    const { purger: p, sessions } = purger();
    const [a, b] = await Promise.all([p.purge(), p.purge()]);
    expect(a).toBe(b);
    expect(sessions.tryPurgeLock).toHaveBeenCalledTimes(1);
  });

  it('runs every interval on an unref’d timer, survives a failed run, and stops at shutdown', async () => {
    jest.useFakeTimers();
    const { purger: p, sessions } = purger();
    sessions.expireAll.mockRejectedValueOnce(new Error('database down'));
    p.onApplicationBootstrap();
    expect(sessions.tryPurgeLock).not.toHaveBeenCalled();

    await jest.advanceTimersByTimeAsync(300_000);
    expect(sessions.tryPurgeLock).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(300_000);
    expect(sessions.tryPurgeLock).toHaveBeenCalledTimes(2);
    expect(sessions.deleteExpiredBefore).toHaveBeenCalledTimes(1);

    await p.beforeApplicationShutdown();
    await jest.advanceTimersByTimeAsync(900_000);
    expect(sessions.tryPurgeLock).toHaveBeenCalledTimes(2);
  });

  it('never keeps the process alive', () => {
    const { purger: p } = purger();
    const spy = jest.spyOn(global, 'setTimeout');
    p.onApplicationBootstrap();
    const timer = spy.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    spy.mockRestore();
    return p.beforeApplicationShutdown();
  });
});
