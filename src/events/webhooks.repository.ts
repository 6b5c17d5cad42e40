import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';

export type WebhookFormat = 'standard-webhooks' | 'set';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookEndpointRow {
  id: string;
  url: string;
  events: string[];
  format: WebhookFormat;
  description: string | null;
  enabled: boolean;
  createdAt: Date;
}

export interface DeliveryRow {
  id: string;
  eventId: string;
  type: string;
  attempt: number;
  status: DeliveryStatus;
  responseStatus: number | null;
  durationMs: number | null;
  lastError: string | null;
  at: Date;
  nextAttemptAt: Date;
}

export interface StoredSecrets {
  secretEnc: Buffer;
  previousSecretEnc: Buffer | null;
  previousSecretExpiresAt: Date | null;
  encKeyVersion: number;
}

const ENDPOINT_COLUMNS = `id, url, events, format, description, enabled, created_at AS "createdAt"`;

/**
 * The endpoints and their deliveries log, in raw SQL: the outbox's tables are written by the statement in
 * EventsOutbox and claimed by WebhookDeliveries, so they are described once, in their migration, rather than
 * by entities as well.
 */
@Injectable()
export class WebhooksRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(
    row: Omit<WebhookEndpointRow, 'createdAt' | 'enabled'> & StoredSecrets,
  ): Promise<WebhookEndpointRow> {
    const [created] = await this.dataSource.query<WebhookEndpointRow[]>(
      `INSERT INTO webhook_endpoints (id, url, events, format, description, secret_enc, enc_key_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${ENDPOINT_COLUMNS}`,
      [row.id, row.url, row.events, row.format, row.description, row.secretEnc, row.encKeyVersion],
    );
    return created!;
  }

  async list(limit: number): Promise<WebhookEndpointRow[]> {
    return await this.dataSource.query<WebhookEndpointRow[]>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at DESC, id LIMIT $1`,
      [limit],
    );
  }

  async find(
    id: string,
    m: EntityManager = this.dataSource.manager,
  ): Promise<WebhookEndpointRow | undefined> {
    const rows = await m.query<WebhookEndpointRow[]>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  async update(
    id: string,
    change: Partial<Pick<WebhookEndpointRow, 'url' | 'events' | 'enabled' | 'description'>>,
  ): Promise<WebhookEndpointRow | undefined> {
    const rows = await this.dataSource.query<[WebhookEndpointRow[], number]>(
      `UPDATE webhook_endpoints SET
         url = COALESCE($2, url),
         events = COALESCE($3, events),
         enabled = COALESCE($4, enabled),
         description = CASE WHEN $5::boolean THEN $6 ELSE description END,
         updated_at = now()
       WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
      [
        id,
        change.url ?? null,
        change.events ?? null,
        change.enabled ?? null,
        change.description !== undefined,
        change.description ?? null,
      ],
    );
    return rows[0][0];
  }

  async delete(id: string): Promise<boolean> {
    const [, count] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM webhook_endpoints WHERE id = $1`,
      [id],
    );
    return count > 0;
  }

  /** The endpoint's secrets, its row locked until `m`'s transaction ends (a rotation). */
  async secretsForUpdate(id: string, m: EntityManager): Promise<StoredSecrets | undefined> {
    const rows = await m.query<StoredSecrets[]>(
      `SELECT secret_enc AS "secretEnc", previous_secret_enc AS "previousSecretEnc",
              previous_secret_expires_at AS "previousSecretExpiresAt", enc_key_version AS "encKeyVersion"
       FROM webhook_endpoints WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return rows[0];
  }

  async replaceSecrets(id: string, secrets: StoredSecrets, m: EntityManager): Promise<void> {
    await m.query(
      `UPDATE webhook_endpoints SET secret_enc = $2, previous_secret_enc = $3, previous_secret_expires_at = $4,
         enc_key_version = $5, updated_at = now() WHERE id = $1`,
      [
        id,
        secrets.secretEnc,
        secrets.previousSecretEnc,
        secrets.previousSecretExpiresAt,
        secrets.encKeyVersion,
      ],
    );
  }

  /** The endpoint's most recent deliveries, newest first. */
  async deliveries(endpointId: string, limit: number): Promise<DeliveryRow[]> {
    return await this.dataSource.query<DeliveryRow[]>(
      `SELECT d.id, d.event_id AS "eventId", e.type, d.attempt, d.status, d.response_status AS "responseStatus",
              d.duration_ms AS "durationMs", d.last_error AS "lastError",
              COALESCE(d.last_attempt_at, d.created_at) AS "at", d.next_attempt_at AS "nextAttemptAt"
       FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
       WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.id LIMIT $2`,
      [endpointId, limit],
    );
  }

  /**
   * Makes a delivered or failed delivery due again now (a manual retry: one more attempt). A pending one is
   * left as it is: it is scheduled already, or being attempted. False when the endpoint has no such delivery.
   * The event's key share lock keeps the retention sweep from deleting it under the retry (decision 0115).
   */
  async retry(endpointId: string, deliveryId: string): Promise<boolean> {
    const rows = await this.dataSource.query<{ found: number }[]>(
      `WITH target AS (
         SELECT d.id FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.id = $2 AND d.endpoint_id = $1
         FOR KEY SHARE OF e
       ),
       moved AS (
         UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
         WHERE id IN (SELECT id FROM target) AND status <> 'pending'
       )
       SELECT count(*)::int AS found FROM target`,
      [endpointId, deliveryId],
    );
    return (rows[0]?.found ?? 0) > 0;
  }

  /** Deliveries not yet delivered nor failed, for the metrics. */
  async pendingCount(): Promise<number> {
    const rows = await this.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`,
    );
    return rows[0]?.n ?? 0;
  }
}
