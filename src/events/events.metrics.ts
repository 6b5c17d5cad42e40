import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { WebhooksRepository } from 'src/events/webhooks.repository';
import { MetricsService } from 'src/metrics/metrics.service';

export type AttemptOutcome = 'delivered' | 'retried' | 'failed';

/**
 * The webhook metrics, on the app's registry: attempts by outcome (`delivered`; `retried`: failed and
 * scheduled again; `failed`: given up), their latency, and the deliveries pending across every instance
 * (read from the table when scraped, so every instance reports the same number).
 */
@Injectable()
export class EventsMetrics {
  private readonly attempts: Counter<'outcome'>;
  private readonly latency: Histogram;

  constructor(metrics: MetricsService, webhooks: WebhooksRepository) {
    this.attempts = new Counter({
      name: 'webhook_delivery_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, retried, failed: given up)',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
    this.latency = new Histogram({
      name: 'webhook_delivery_duration_seconds',
      help: 'Webhook delivery attempt latency, from sending to the receiver’s answer (or the timeout)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics.registry],
    });
    new Gauge({
      name: 'webhook_deliveries_pending',
      help: 'Webhook deliveries not yet delivered nor failed (every instance)',
      registers: [metrics.registry],
      async collect() {
        // A scrape while the database is away reports the last value rather than failing.
        await webhooks.pendingCount().then(
          (n) => this.set(n),
          () => undefined,
        );
      },
    });
  }

  attempted(outcome: AttemptOutcome, seconds: number): void {
    this.attempts.inc({ outcome });
    this.latency.observe(seconds);
  }
}
