import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { encryptionKeyMissing } from 'src/crypto/encryption/encryption.errors';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import {
  DEFAULT_ROTATION_GRACE_SECONDS,
  DELIVERIES_DEFAULT_LIMIT,
  type CreateWebhookDto,
  type CreatedWebhookDto,
  type DeliveryListDto,
  type ListDeliveriesQueryDto,
  type RotateWebhookSecretDto,
  type RotatedWebhookSecretDto,
  type UpdateWebhookDto,
  type WebhookDto,
  type WebhookListDto,
} from 'src/events/dto/webhook.dto';
import { webhookSecretField } from 'src/events/events.encrypted-table';
import { WebhooksAudit } from 'src/events/webhooks.audit';
import { WebhookUrlPolicy } from 'src/events/webhook-url-policy';
import { WebhooksRepository, type WebhookEndpointRow } from 'src/events/webhooks.repository';
import { ApiError } from 'src/errors/api-error';

/** Endpoints listed at most (an org has a handful; the list is not paged). */
const LIST_LIMIT = 500;
/** 32 random bytes: the Standard Webhooks secret size (24 to 64 allowed). */
const SECRET_BYTES = 32;

/** A new signing secret as Standard Webhooks libraries take it: `whsec_` and base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
}

/**
 * The webhook endpoints' admin (contract: "Events (webhooks)"). A secret is shown once, at creation and at a
 * rotation, and stored encrypted like a credential's refresh token: without ENCRYPTION_KEY, creating and
 * rotating answer 503 `encryption_key_missing` (decision 0090), and nothing is delivered.
 */
@Injectable()
export class WebhooksService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly webhooks: WebhooksRepository,
    private readonly policy: WebhookUrlPolicy,
    private readonly encryption: EncryptionService,
    private readonly audit: AuditService,
  ) {}

  async create(ctx: AuditContext, dto: CreateWebhookDto): Promise<CreatedWebhookDto> {
    if (!this.encryption.available) throw encryptionKeyMissing();
    await this.refuseUrl(dto.url);
    const id = randomUUID();
    const secret = newWebhookSecret();
    const sealed = this.encryption.encrypt(secret, webhookSecretField(id, 'secret_enc'));
    const row = await this.webhooks.insert({
      id,
      url: dto.url,
      events: dto.events,
      format: dto.format ?? 'standard-webhooks',
      description: dto.description || null,
      secretEnc: sealed.ciphertext,
      previousSecretEnc: null,
      previousSecretExpiresAt: null,
      encKeyVersion: sealed.keyVersion,
    });
    await this.audit.record(ctx, {
      action: WebhooksAudit.Create,
      targetType: 'webhook',
      targetId: id,
      metadata: { url: row.url, events: row.events, format: row.format },
    });
    return { webhook: toView(row), secret };
  }

  async list(): Promise<WebhookListDto> {
    return { webhooks: (await this.webhooks.list(LIST_LIMIT)).map(toView) };
  }

  async get(id: string): Promise<WebhookDto> {
    return toView(await this.found(id));
  }

  async update(ctx: AuditContext, id: string, dto: UpdateWebhookDto): Promise<WebhookDto> {
    if (dto.url !== undefined) await this.refuseUrl(dto.url);
    const row = await this.webhooks.update(id, {
      url: dto.url,
      events: dto.events,
      enabled: dto.enabled,
      description: dto.description === undefined ? undefined : dto.description || null,
    });
    if (!row) throw ApiError.notFound('Webhook');
    await this.audit.record(ctx, {
      action: WebhooksAudit.Update,
      targetType: 'webhook',
      targetId: id,
      metadata: { fields: Object.keys(dto), url: row.url, events: row.events, enabled: row.enabled },
    });
    return toView(row);
  }

  async delete(ctx: AuditContext, id: string): Promise<void> {
    if (!(await this.webhooks.delete(id))) throw ApiError.notFound('Webhook');
    await this.audit.record(ctx, { action: WebhooksAudit.Delete, targetType: 'webhook', targetId: id });
  }

  /**
   * A new secret; the current one keeps signing too for `graceSeconds` (both signatures on every delivery),
   * then only the new one does. A rotation during a grace ends the older grace: two secrets at most.
   */
  async rotateSecret(
    ctx: AuditContext,
    id: string,
    dto: RotateWebhookSecretDto,
  ): Promise<RotatedWebhookSecretDto> {
    if (!this.encryption.available) throw encryptionKeyMissing();
    const graceSeconds = dto.graceSeconds ?? DEFAULT_ROTATION_GRACE_SECONDS;
    const secret = newWebhookSecret();
    await this.dataSource.transaction(async (m) => {
      const stored = await this.webhooks.secretsForUpdate(id, m);
      if (!stored) throw ApiError.notFound('Webhook');
      const sealed = this.encryption.encrypt(secret, webhookSecretField(id, 'secret_enc'));
      let previous: Buffer | null = null;
      if (graceSeconds > 0) {
        // Re-sealed under the current key version: a row has one version for all of its columns.
        const current = this.encryption.decrypt(
          stored.secretEnc,
          stored.encKeyVersion,
          webhookSecretField(id, 'secret_enc'),
        );
        previous = this.encryption.encrypt(current, webhookSecretField(id, 'previous_secret_enc')).ciphertext;
      }
      await this.webhooks.replaceSecrets(
        id,
        {
          secretEnc: sealed.ciphertext,
          previousSecretEnc: previous,
          previousSecretExpiresAt: previous ? new Date(Date.now() + graceSeconds * 1000) : null,
          encKeyVersion: sealed.keyVersion,
        },
        m,
      );
      await this.audit.record(
        ctx,
        {
          action: WebhooksAudit.RotateSecret,
          targetType: 'webhook',
          targetId: id,
          metadata: { graceSeconds },
        },
        m,
      );
    });
    return { secret };
  }

  async deliveries(id: string, query: ListDeliveriesQueryDto): Promise<DeliveryListDto> {
    await this.found(id);
    const rows = await this.webhooks.deliveries(id, query.limit ?? DELIVERIES_DEFAULT_LIMIT);
    return {
      deliveries: rows.map((d) => ({
        id: d.id,
        eventId: d.eventId,
        type: d.type,
        attempt: d.attempt,
        status: d.status,
        responseStatus: d.responseStatus,
        durationMs: d.durationMs,
        lastError: d.lastError,
        at: d.at.toISOString(),
        nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
      })),
    };
  }

  async retry(ctx: AuditContext, id: string, deliveryId: string): Promise<void> {
    await this.found(id);
    if (!(await this.webhooks.retry(id, deliveryId))) throw ApiError.notFound('Delivery');
    await this.audit.record(ctx, {
      action: WebhooksAudit.RetryDelivery,
      targetType: 'webhook',
      targetId: id,
      metadata: { deliveryId },
    });
  }

  private async found(id: string): Promise<WebhookEndpointRow> {
    const row = await this.webhooks.find(id);
    if (!row) throw ApiError.notFound('Webhook');
    return row;
  }

  private async refuseUrl(url: string): Promise<void> {
    const refusal = await this.policy.refuseEndpoint(url);
    if (refusal) throw ApiError.validation(refusal, [{ field: 'url', messages: [refusal] }]);
  }
}

function toView(row: WebhookEndpointRow): WebhookDto {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    format: row.format,
    enabled: row.enabled,
    description: row.description,
    createdAt: row.createdAt.toISOString(),
  };
}
