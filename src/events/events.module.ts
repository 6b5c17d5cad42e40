import { Module } from '@nestjs/common';
import { provideConfig } from 'src/config/config-slice';
import { SigningModule } from 'src/crypto/signing/signing.module';
import { eventsConfig } from 'src/events/events.config';
import { EventsMetrics } from 'src/events/events.metrics';
import { EventsOutboxModule } from 'src/events/events-outbox.module';
import { EventsRetention } from 'src/events/events-retention';
import { ExpiringSweep } from 'src/events/expiring-sweep';
import { WebhookDeliveries } from 'src/events/webhook-deliveries';
import { WebhookUrlPolicy } from 'src/events/webhook-url-policy';
import { WebhooksController } from 'src/events/webhooks.controller';
import { WebhooksRepository } from 'src/events/webhooks.repository';
import { WebhooksService } from 'src/events/webhooks.service';
import { MetricsModule } from 'src/metrics/metrics.module';

/**
 * Events and their webhooks: the endpoints' admin, the delivery worker every instance runs, the sweep
 * that announces expiries and the one that deletes old events. Features write events through EventsOutboxModule alone (decision 0090).
 */
@Module({
  imports: [EventsOutboxModule, SigningModule, MetricsModule],
  controllers: [WebhooksController],
  providers: [
    provideConfig(eventsConfig),
    WebhooksRepository,
    WebhooksService,
    WebhookUrlPolicy,
    WebhookDeliveries,
    ExpiringSweep,
    EventsRetention,
    EventsMetrics,
  ],
  exports: [WebhookDeliveries, ExpiringSweep],
})
export class EventsModule {}
