import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { EventData, EventType } from 'src/events/event-types';

export interface OutboxEvent {
  type: EventType;
  data: EventData;
  /**
   * For an event that fires once per subject (a key's `expiring`): a second event with the same key is
   * dropped, with its deliveries.
   */
  dedupKey?: string;
}

/**
 * The transactional outbox's writer: what every feature calls, with its own transaction's manager, at the
 * point where it makes a change. One statement writes the events and a pending delivery for every enabled
 * endpoint subscribed to their type (or to `*`), so a change that rolls back leaves no event, and a
 * committed one always has its event and deliveries (decision 0090). Delivery happens later, from the table
 * (WebhookDeliveryWorker). This class depends on nothing but the caller's manager: features import
 * EventsOutboxModule, never the rest of src/events.
 */
@Injectable()
export class EventsOutbox {
  /** Writes one event in `m`'s transaction. */
  emit(m: EntityManager, type: EventType, data: EventData, dedupKey?: string): Promise<number> {
    return this.emitMany(m, [{ type, data, dedupKey }]);
  }

  /** Writes several events in `m`'s transaction, in one statement; answers how many were written. */
  async emitMany(m: EntityManager, events: readonly OutboxEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    // FOR KEY SHARE: the lock the deliveries' foreign key takes anyway, taken while choosing the endpoints, so
    // an endpoint deleted by a transaction under way is waited for and then left out, instead of failing the
    // caller's change with a foreign-key violation.
    const rows = await m.query<{ written: number }[]>(
      `WITH written AS (
         INSERT INTO events (type, data, dedup_key)
         SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[])
         ON CONFLICT (dedup_key) DO NOTHING
         RETURNING id, type
       ), queued AS (
         INSERT INTO webhook_deliveries (event_id, endpoint_id)
         SELECT w.id, e.id FROM written w
         JOIN webhook_endpoints e ON e.enabled AND (w.type = ANY(e.events) OR '*' = ANY(e.events))
         FOR KEY SHARE OF e
       )
       SELECT count(*)::int AS written FROM written`,
      [
        events.map((e) => e.type),
        events.map((e) => JSON.stringify(e.data)),
        events.map((e) => e.dedupKey ?? null),
      ],
    );
    return rows[0]?.written ?? 0;
  }
}
