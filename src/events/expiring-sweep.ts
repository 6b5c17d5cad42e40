import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { PeriodicSweep } from 'src/database/periodic-sweep';
import type { EventType } from 'src/events/event-types';
import { eventsConfig, type EventsConfig } from 'src/events/events.config';
import { EventsOutbox, type OutboxEvent } from 'src/events/events-outbox';

/** Shared by every instance: only the one holding it sweeps (an arbitrary constant, "kswh"). */
export const SWEEP_LOCK_KEY = 0x6b73_7768;
/** Events written per kind and run at most; the rest wait for the next run, so a run stays short. */
const SWEEP_BATCH = 1000;

export interface SweepResult {
  skipped: boolean;
  written: number;
}

interface Subject {
  id: string;
  prefix: string;
  label: string | null;
  userId: string | null;
  expiresAt: Date;
  /** Computed by the query that checks it, so both spell it the same. */
  dedupKey: string;
}

/**
 * The events no request causes: `api_key.expiring` and `org_token.expiring` WEBHOOK_EXPIRING_LEAD before a
 * live key's `expiresAt`, and `api_key.expired` once it has passed. Each fires once per key and expiry: its
 * dedup key names the key and the instant, so a second run (or instance) writes nothing, and an expiry moved
 * later fires again. Every instance tries every WEBHOOK_SWEEP_INTERVAL_SECONDS, one at a time (a
 * PeriodicSweep, as the OAuth session purge is). `expired` is announced for keys that expired within the last
 * lead (a database that had keys expire long before this feature is not flooded). The tables are read by name (src/events imports no feature: decision 0090).
 */
@Injectable()
export class ExpiringSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly periodic: PeriodicSweep<SweepResult>;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    @Inject(eventsConfig.KEY) private readonly config: EventsConfig,
    private readonly outbox: EventsOutbox,
  ) {
    this.periodic = new PeriodicSweep(dataSource, {
      name: 'EventsSweep',
      what: 'expiry sweep',
      lockKey: SWEEP_LOCK_KEY,
      intervalMs: config.sweepIntervalSeconds * 1000,
      run: async ({ locked }) => (await locked((m) => this.run(m))) ?? { skipped: true, written: 0 },
      logged: (r) => (r.written ? 'expiry events written' : undefined),
    });
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  /** One sweep now (or the one under way on this instance). */
  sweep(): Promise<SweepResult> {
    return this.periodic.runOnce();
  }

  /** One run, under the sweep lock. */
  private async run(m: EntityManager): Promise<SweepResult> {
    const lead = this.config.expiringLeadMs;
    let written = 0;
    written += await this.announce(m, 'api_key.expiring', await this.apiKeys(m, 'expiring', lead));
    written += await this.announce(m, 'api_key.expired', await this.apiKeys(m, 'expired', lead));
    written += await this.announce(m, 'org_token.expiring', await this.orgTokens(m, lead));
    return { skipped: false, written };
  }

  private announce(m: EntityManager, type: EventType, subjects: Subject[]): Promise<number> {
    const kind = type.startsWith('api_key') ? 'api_key' : 'org_token';
    const events: OutboxEvent[] = subjects.map((s) => ({
      type,
      data: {
        [kind === 'api_key' ? 'keyId' : 'tokenId']: s.id,
        [kind === 'api_key' ? 'keyPrefix' : 'prefix']: s.prefix,
        [kind === 'api_key' ? 'label' : 'name']: s.label,
        ...(kind === 'api_key' ? { userId: s.userId } : {}),
        expiresAt: s.expiresAt.toISOString(),
      },
      dedupKey: s.dedupKey,
    }));
    return this.outbox.emitMany(m, events);
  }

  /** Live API keys entering the lead (`expiring`) or just past their expiry (`expired`), not yet announced. */
  private async apiKeys(m: EntityManager, what: 'expiring' | 'expired', leadMs: number): Promise<Subject[]> {
    const window =
      what === 'expiring'
        ? `k.expires_at > now() AND k.expires_at <= now() + $1 * interval '1 millisecond'`
        : `k.expires_at <= now() AND k.expires_at > now() - $1 * interval '1 millisecond'`;
    return await m.query<Subject[]>(
      `SELECT * FROM (
         SELECT k.id, k.key_prefix AS prefix, k.label, k.user_id AS "userId", k.expires_at AS "expiresAt",
           $2 || ':' || k.id || ':' || floor(extract(epoch FROM k.expires_at) * 1000)::bigint AS "dedupKey"
         FROM api_keys k
         WHERE k.revoked_at IS NULL AND k.successor_id IS NULL AND ${window}
       ) s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.dedup_key = s."dedupKey")
       ORDER BY s."expiresAt" LIMIT $3`,
      [leadMs, `api_key.${what}`, SWEEP_BATCH],
    );
  }

  /** Live org tokens entering the lead, not yet announced. */
  private async orgTokens(m: EntityManager, leadMs: number): Promise<Subject[]> {
    return await m.query<Subject[]>(
      `SELECT * FROM (
         SELECT t.id, t.prefix, t.name AS label, NULL AS "userId", t.expires_at AS "expiresAt",
           'org_token.expiring:' || t.id || ':' || floor(extract(epoch FROM t.expires_at) * 1000)::bigint
             AS "dedupKey"
         FROM org_tokens t
         WHERE t.revoked_at IS NULL AND t.successor_id IS NULL
           AND t.expires_at > now() AND t.expires_at <= now() + $1 * interval '1 millisecond'
       ) s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.dedup_key = s."dedupKey")
       ORDER BY s."expiresAt" LIMIT $2`,
      [leadMs, SWEEP_BATCH],
    );
  }
}
