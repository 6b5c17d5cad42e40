import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateBy,
} from 'class-validator';
import { SUBSCRIBABLE_EVENTS } from 'src/events/event-types';
import type { DeliveryStatus, WebhookFormat } from 'src/events/webhooks.repository';
import { FreeText, HTTP_URL_PATTERN, isHttpUrl, OptionalField } from 'src/validation/body.decorators';

export const WEBHOOK_URL_MAX = 2048;
export const WEBHOOK_FORMATS = ['standard-webhooks', 'set'] as const satisfies readonly WebhookFormat[];
export const MAX_ROTATION_GRACE_SECONDS = 604_800;
/** The grace when none is asked for: a day, as for a key roll. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
export const DELIVERIES_MAX_LIMIT = 100;
export const DELIVERIES_DEFAULT_LIMIT = 50;
export const DELIVERY_STATUSES = [
  'pending',
  'delivered',
  'failed',
] as const satisfies readonly DeliveryStatus[];

const IsWebhookUrl = (): PropertyDecorator =>
  ValidateBy({
    name: 'isWebhookUrl',
    validator: {
      validate: isHttpUrl,
      defaultMessage: () => 'url must be an absolute https URL without credentials or fragment',
    },
  });

const URL_PROPERTY = {
  maxLength: WEBHOOK_URL_MAX,
  format: 'uri',
  pattern: HTTP_URL_PATTERN,
  example: 'https://hooks.example.com/keysmith',
  description:
    'Where events are posted: an absolute `https` URL on a public address (`http`, private and loopback ' +
    'hosts only where `WEBHOOK_ALLOWED_HOSTS` names them, or loopback in development).',
};

const EVENTS_PROPERTY = {
  type: 'array' as const,
  items: { type: 'string', enum: [...SUBSCRIBABLE_EVENTS] },
  minItems: 1,
  maxItems: SUBSCRIBABLE_EVENTS.length,
  uniqueItems: true,
  example: ['api_key.revoked', 'api_key.leaked'],
  description: 'The event types sent to this endpoint; `["*"]` is every type (also those added later).',
};

const EventsField = (): PropertyDecorator => (target, key) => {
  IsArray()(target, key);
  ArrayNotEmpty()(target, key);
  ArrayMaxSize(SUBSCRIBABLE_EVENTS.length)(target, key);
  ArrayUnique()(target, key);
  IsIn(SUBSCRIBABLE_EVENTS, { each: true, message: 'each event must be a known event type or *' })(
    target,
    key,
  );
};

export class CreateWebhookDto {
  @ApiProperty(URL_PROPERTY)
  @MaxLength(WEBHOOK_URL_MAX)
  @IsWebhookUrl()
  @IsString()
  url: string;

  @ApiProperty(EVENTS_PROPERTY)
  @EventsField()
  events: string[];

  /** What the endpoint is for. @example "incident tooling" */
  @OptionalField()
  @FreeText({ max: 500 })
  description?: string;

  /**
   * `standard-webhooks` (JSON, HMAC signatures: the default) or `set` (a Security Event Token, RFC 8417,
   * signed with the key behind `/.well-known/jwks.json`).
   */
  @ApiPropertyOptional({ enum: WEBHOOK_FORMATS, default: 'standard-webhooks' })
  @OptionalField()
  @IsIn(WEBHOOK_FORMATS)
  format?: WebhookFormat;
}

export class UpdateWebhookDto {
  @ApiPropertyOptional(URL_PROPERTY)
  @OptionalField()
  @MaxLength(WEBHOOK_URL_MAX)
  @IsWebhookUrl()
  @IsString()
  url?: string;

  @ApiPropertyOptional(EVENTS_PROPERTY)
  @OptionalField()
  @EventsField()
  events?: string[];

  /** false: no new deliveries are queued, and queued ones wait until it is enabled again. */
  @OptionalField()
  @IsBoolean()
  enabled?: boolean;

  /** @example "incident tooling" */
  @OptionalField()
  @FreeText({ max: 500 })
  description?: string;
}

export class RotateWebhookSecretDto {
  /**
   * How long the old secret keeps signing too, in seconds (default 86400, a day): during it every delivery
   * carries both signatures. 0 drops it at once.
   * @example 3600
   */
  @ApiProperty({ type: 'integer', default: DEFAULT_ROTATION_GRACE_SECONDS })
  @OptionalField()
  @IsInt()
  @Min(0)
  @Max(MAX_ROTATION_GRACE_SECONDS)
  graceSeconds?: number;
}

export class ListDeliveriesQueryDto {
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    maximum: DELIVERIES_MAX_LIMIT,
    default: DELIVERIES_DEFAULT_LIMIT,
  })
  @OptionalField()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(DELIVERIES_MAX_LIMIT)
  limit?: number;
}

export class WebhookDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ maxLength: WEBHOOK_URL_MAX, format: 'uri' })
  url: string;

  @ApiProperty({ type: 'array', items: { type: 'string', enum: [...SUBSCRIBABLE_EVENTS] } })
  events: string[];

  @ApiProperty({ enum: WEBHOOK_FORMATS })
  format: WebhookFormat;

  enabled: boolean;

  @ApiProperty({ type: 'string', maxLength: 500, nullable: true })
  description: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class WebhookListDto {
  /** Every endpoint, newest first. */
  @ApiProperty({ type: [WebhookDto] })
  webhooks: WebhookDto[];
}

export class CreatedWebhookDto {
  webhook: WebhookDto;

  /**
   * The signing secret (`whsec_` and base64). Returned only in this response; store it now.
   * @example whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
   */
  secret: string;
}

export class RotatedWebhookSecretDto {
  /** The new signing secret. Returned only in this response; store it now. */
  secret: string;
}

export class DeliveryDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  /** The event's id: the `webhook-id` header (and a SET's `jti`), the same on every attempt. */
  @ApiProperty({ format: 'uuid' })
  eventId: string;

  /** @example api_key.revoked */
  type: string;

  /** Attempts made so far (a claimed attempt counts, even if its instance stopped before it ended). */
  @ApiProperty({ type: 'integer', minimum: 0 })
  attempt: number;

  @ApiProperty({ enum: DELIVERY_STATUSES })
  status: DeliveryStatus;

  /** The HTTP status of the last attempt's answer; null when there was none (timeout, refused, not sent). */
  @ApiProperty({ type: 'integer', nullable: true })
  responseStatus: number | null;

  @ApiProperty({ type: 'integer', nullable: true })
  durationMs: number | null;

  /**
   * Why the last attempt failed, when it did: `status` (a non-2xx answer), `redirect`, `timeout`, `refused`
   * (the outbound policy), `failed` (no answer), `internal` (the secret could not be read: the encryption
   * key); never the receiver's body.
   */
  @ApiProperty({ type: 'string', nullable: true })
  lastError: string | null;

  /** The last attempt, or when the delivery was queued. */
  @ApiProperty({ format: 'date-time' })
  at: string;

  /** When it is tried next; null unless pending. */
  @ApiProperty({ format: 'date-time', nullable: true })
  nextAttemptAt: string | null;
}

export class DeliveryListDto {
  /** The endpoint's deliveries, newest first. */
  @ApiProperty({ type: [DeliveryDto] })
  deliveries: DeliveryDto[];
}
