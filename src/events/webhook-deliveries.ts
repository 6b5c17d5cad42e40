import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { TokenSigner } from 'src/crypto/signing/token-signer';
import { eventsConfig, type EventsConfig } from 'src/events/events.config';
import { webhookSecretField } from 'src/events/events.encrypted-table';
import { EventsMetrics } from 'src/events/events.metrics';
import { webhookMessage } from 'src/events/webhook-message';
import { WebhookUrlPolicy } from 'src/events/webhook-url-policy';
import type { WebhookFormat } from 'src/events/webhooks.repository';
import { HostResolver } from 'src/http/host-resolver';
import { outboundRequest, type OutboundResult } from 'src/http/outbound-request';

/** How long past its timeout a claimed attempt stays claimed: then another instance may take it over. */
export const LEASE_MARGIN_MS = 5_000;
/** Candidates looked at per free slot: rows of endpoints at their bound are passed over, not waited for. */
const CANDIDATES_PER_SLOT = 4;

/** A delivery claimed for one attempt, with what the attempt needs. */
interface Claimed {
  id: string;
  attempt: number;
  eventId: string;
  type: string;
  occurredAt: Date;
  data: Record<string, unknown>;
  endpointId: string;
  url: string;
  format: WebhookFormat;
  secretEnc: Buffer;
  previousSecretEnc: Buffer | null;
  previousSecretExpiresAt: Date | null;
  encKeyVersion: number;
}

/** How an attempt ended, as the deliveries log keeps it (never the receiver's body). */
type AttemptResult =
  | { ok: true; status: number }
  | {
      ok: false;
      status: number | null;
      error: 'status' | 'redirect' | 'timeout' | 'refused' | 'failed' | 'internal';
    };

/**
 * The delivery worker, on every instance (decision 0090). It claims due deliveries in short transactions
 * (`FOR UPDATE SKIP LOCKED`: two instances never claim one row), marking each with a lease (its
 * `next_attempt_at` moved to the attempt's deadline plus a margin) and its attempt number, and commits
 * before sending: no transaction is held during an HTTP call. An instance that dies mid-attempt leaves its
 * claims to expire; another instance then takes them over. An attempt's result is recorded only if the
 * delivery is still at that attempt, so a late result of a taken-over claim changes nothing.
 *
 * Bounded: WEBHOOK_CONCURRENCY attempts at once per instance, of which WEBHOOK_CONCURRENCY_PER_ENDPOINT to
 * one endpoint, so one slow receiver cannot hold every slot. It looks for work every
 * WEBHOOK_POLL_INTERVAL_MS, and at once whenever an attempt ends. At shutdown it claims nothing more and
 * waits for the attempts under way (each bounded by WEBHOOK_TIMEOUT_MS).
 */
@Injectable()
export class WebhookDeliveries implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  private readonly perEndpoint = new Map<string, number>();
  private readonly attempts = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(eventsConfig.KEY) private readonly config: EventsConfig,
    private readonly encryption: EncryptionService,
    private readonly signer: TokenSigner,
    private readonly policy: WebhookUrlPolicy,
    private readonly resolver: HostResolver,
    private readonly metrics: EventsMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.stopped = false;
    this.wake();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await Promise.all([...this.attempts]);
  }

  /** Looks for due deliveries now (or right after the look under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) this.wake();
      else this.timer = setTimeout(() => this.wake(), this.config.pollIntervalMs).unref();
    });
  }

  private async drain(): Promise<void> {
    this.again = false;
    const free = this.config.concurrency - this.attempts.size;
    if (free <= 0) return;
    let claimed: Claimed[];
    try {
      claimed = await this.claim(free);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'claiming webhook deliveries failed; retrying');
      return;
    }
    for (const delivery of claimed) this.start(delivery);
    // Every slot filled from a full batch: more may be due right now.
    if (claimed.length === free) this.again = true;
  }

  private start(delivery: Claimed): void {
    this.perEndpoint.set(delivery.endpointId, (this.perEndpoint.get(delivery.endpointId) ?? 0) + 1);
    const attempt: Promise<void> = this.attempt(delivery)
      .catch((err: unknown) =>
        this.logger.warn(
          { err: (err as Error).message, deliveryId: delivery.id },
          'webhook attempt not recorded',
        ),
      )
      .finally(() => {
        this.attempts.delete(attempt);
        const left = (this.perEndpoint.get(delivery.endpointId) ?? 1) - 1;
        if (left > 0) this.perEndpoint.set(delivery.endpointId, left);
        else this.perEndpoint.delete(delivery.endpointId);
        this.wake();
      });
    this.attempts.add(attempt);
  }

  /**
   * Claims up to `free` due deliveries in one statement (autocommit: one round trip): due rows are locked
   * `SKIP LOCKED`, ranked per endpoint, and those within the per-endpoint bound (counting this instance's
   * attempts under way) are leased; the others are released when the statement ends. Endpoints already at
   * their bound on this instance are left out of the candidates: otherwise a slow receiver's backlog, due
   * before everything else, would fill every candidate and hold back every other endpoint's deliveries.
   */
  private async claim(free: number): Promise<Claimed[]> {
    const busy = [...this.perEndpoint];
    const [rows] = await this.dataSource.query<[Claimed[], number]>(
      `WITH due AS (
         SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
         WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND d.endpoint_id <> ALL($7::uuid[])
         ORDER BY d.next_attempt_at
         LIMIT $1
         FOR UPDATE OF d SKIP LOCKED
       ), ranked AS (
         SELECT due.id, due.next_attempt_at,
           row_number() OVER (PARTITION BY due.endpoint_id ORDER BY due.next_attempt_at) + COALESCE(b.n, 0) AS slot
         FROM due LEFT JOIN unnest($2::uuid[], $3::int[]) AS b(endpoint_id, n) ON b.endpoint_id = due.endpoint_id
       ), chosen AS (
         SELECT id FROM ranked WHERE slot <= $4 ORDER BY next_attempt_at LIMIT $5
       )
       UPDATE webhook_deliveries d SET attempt = d.attempt + 1, last_attempt_at = now(),
         next_attempt_at = now() + $6 * interval '1 millisecond'
       FROM events ev, webhook_endpoints e
       WHERE d.id IN (SELECT id FROM chosen) AND ev.id = d.event_id AND e.id = d.endpoint_id
       RETURNING d.id, d.attempt, ev.id AS "eventId", ev.type, ev.occurred_at AS "occurredAt", ev.data,
         e.id AS "endpointId", e.url, e.format, e.secret_enc AS "secretEnc",
         e.previous_secret_enc AS "previousSecretEnc",
         e.previous_secret_expires_at AS "previousSecretExpiresAt", e.enc_key_version AS "encKeyVersion"`,
      [
        free * CANDIDATES_PER_SLOT,
        busy.map(([endpointId]) => endpointId),
        busy.map(([, n]) => n),
        this.config.concurrencyPerEndpoint,
        free,
        this.config.timeoutMs + LEASE_MARGIN_MS,
        busy.filter(([, n]) => n >= this.config.concurrencyPerEndpoint).map(([endpointId]) => endpointId),
      ],
    );
    return rows;
  }

  private async attempt(delivery: Claimed): Promise<void> {
    const started = performance.now();
    const result = await this.send(delivery);
    const seconds = (performance.now() - started) / 1000;
    const schedule = this.config.retryScheduleMs;
    const status = result.ok ? 'delivered' : delivery.attempt > schedule.length ? 'failed' : 'pending';
    const delayMs = status === 'pending' ? jittered(schedule[delivery.attempt - 1]!) : 0;
    await this.dataSource.query(
      `UPDATE webhook_deliveries SET status = $3, next_attempt_at = now() + $4 * interval '1 millisecond',
         response_status = $5, duration_ms = $6, last_error = $7
       WHERE id = $1 AND attempt = $2 AND status = 'pending'`,
      [
        delivery.id,
        delivery.attempt,
        status,
        delayMs,
        result.status,
        Math.round(seconds * 1000),
        result.ok ? null : result.error,
      ],
    );
    this.metrics.attempted(
      status === 'delivered' ? 'delivered' : status === 'failed' ? 'failed' : 'retried',
      seconds,
    );
  }

  private async send(delivery: Claimed): Promise<AttemptResult> {
    let secrets: string[];
    try {
      secrets = this.secretsOf(delivery);
    } catch (err) {
      // A key missing or not matching: logged without the secret, retried on the schedule.
      this.logger.warn(
        { err: (err as Error).message, endpointId: delivery.endpointId },
        'webhook secret unreadable',
      );
      return { ok: false, status: null, error: 'internal' };
    }
    // The URL's text is checked again (the policy may have changed since it was stored); its addresses are
    // checked by the pinned lookup of the outbound helper, as resolved now.
    if (this.policy.refuseUrl(delivery.url) !== undefined)
      return { ok: false, status: null, error: 'refused' };
    const { body, headers } = webhookMessage(
      { id: delivery.eventId, type: delivery.type, occurredAt: delivery.occurredAt, data: delivery.data },
      delivery,
      secrets,
      this.signer,
      new Date(),
    );
    const answer = await outboundRequest(
      {
        url: new URL(delivery.url),
        method: 'POST',
        headers,
        body,
        timeoutMs: this.config.timeoutMs,
        maxBodyBytes: 0,
        // The answer's body is never read nor kept: only its status counts.
        readBody: () => false,
      },
      { resolver: this.resolver, refuse: this.policy.refuseAddress },
    );
    return classify(answer);
  }

  private secretsOf(d: Claimed): string[] {
    const secrets = [
      this.encryption.decrypt(d.secretEnc, d.encKeyVersion, webhookSecretField(d.endpointId, 'secret_enc')),
    ];
    if (d.previousSecretEnc && d.previousSecretExpiresAt && d.previousSecretExpiresAt.getTime() > Date.now())
      secrets.push(
        this.encryption.decrypt(
          d.previousSecretEnc,
          d.encKeyVersion,
          webhookSecretField(d.endpointId, 'previous_secret_enc'),
        ),
      );
    return secrets;
  }
}

function classify(answer: OutboundResult): AttemptResult {
  switch (answer.kind) {
    case 'answered':
      if (answer.status >= 200 && answer.status < 300) return { ok: true, status: answer.status };
      // A redirect is never followed: the receiver must give the URL it answers at.
      if (answer.status >= 300 && answer.status < 400)
        return { ok: false, status: answer.status, error: 'redirect' };
      return { ok: false, status: answer.status, error: 'status' };
    case 'too_large':
      return { ok: false, status: answer.status, error: 'status' };
    case 'timeout':
      return { ok: false, status: null, error: 'timeout' };
    case 'refused':
      return { ok: false, status: null, error: 'refused' };
    case 'failed':
      return { ok: false, status: null, error: 'failed' };
  }
}

/** `ms` spread by ±20%, so deliveries failed together do not all come back at once. */
function jittered(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}
