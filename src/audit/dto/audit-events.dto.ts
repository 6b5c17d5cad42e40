import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, isUUID, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { SafeText } from 'src/validation/body.decorators';
import { IsoDate } from 'src/validation/instants';

export const AUDIT_EVENTS_MAX_LIMIT = 500;
export const AUDIT_EVENTS_DEFAULT_LIMIT = 100;
/** The most events one `format=ndjson` export streams (and its default). */
export const AUDIT_EXPORT_MAX_LIMIT = 100_000;
export const AUDIT_FORMATS = ['json', 'ndjson'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export class ListAuditEventsQueryDto {
  /**
   * At most this many events: 1..500 (default 100) as JSON; 1..100000 (default 100000) with `format=ndjson`.
   * `x-json-maximum`: the maximum without `format=ndjson`.
   */
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    maximum: AUDIT_EXPORT_MAX_LIMIT,
    'x-json-maximum': AUDIT_EVENTS_MAX_LIMIT,
  } as ApiPropertyOptions)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT_EXPORT_MAX_LIMIT)
  limit?: number;

  /**
   * An event id: only events older than that event (pass the `id` of the last event of a page to get the next one; exact, nothing skipped or repeated). Or an ISO 8601 instant: only events strictly older.
   * @example 3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f
   */
  @ApiProperty({ anyOf: [{ format: 'uuid' }, { format: 'date-time' }, { format: 'date' }] })
  @IsOptional()
  @ValidateIf((_o, v: unknown) => typeof v !== 'string' || !isUUID(v))
  @IsoDate({ message: 'before must be an event id or an ISO 8601 date' })
  before?: string;

  /**
   * An event id: only events newer than that event. Or an ISO 8601 instant: only events strictly newer. With `after` the events come oldest first (ascending `at`, then `id`), so `limit` keeps those right after it: an incremental export (a SIEM) polls again with `after` = the `id` of the last event it received and walks forward, every event exactly once, none skipped.
   * @example 3f0c8a4e-8a5b-4c1e-9d2f-0a1b2c3d4e5f
   */
  @ApiProperty({ anyOf: [{ format: 'uuid' }, { format: 'date-time' }, { format: 'date' }] })
  @IsOptional()
  @ValidateIf((_o, v: unknown) => typeof v !== 'string' || !isUUID(v))
  @IsoDate({ message: 'after must be an event id or an ISO 8601 date' })
  after?: string;

  /**
   * Only events of this actor, exactly (`session:<sub>`, `org-token:<prefix>`, `admin-token`, ...).
   * @example admin-token
   */
  @IsOptional()
  @IsString()
  @MaxLength(300)
  @SafeText()
  actor?: string;

  /**
   * Only events of this action, exactly.
   * @example user.disable
   */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @SafeText()
  action?: string;

  /** Only events about this target (a key, token, user or credential id), exactly. */
  @IsOptional()
  @IsString()
  @MaxLength(255)
  @SafeText()
  targetId?: string;

  /** `json` (default): one page, `{events}`. `ndjson`: a streamed export, one event per line (`application/x-ndjson`). */
  @ApiProperty({ enum: AUDIT_FORMATS })
  @IsOptional()
  @IsIn(AUDIT_FORMATS)
  format?: AuditFormat;
}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'date-time' })
  at: string;

  /** @example org-token:kso_3hG7kQ2x */
  actor: string;

  /** @example org_token.mint */
  action: string;

  /** @example org_token */
  targetType: string;

  targetId: string | null;

  ip: string | null;

  /** The id keysmith gave the request (a UUID): find its log lines with it. */
  requestId: string | null;

  /** The `x-request-id` the caller sent, when it sent a well-formed one; never in place of `requestId`. */
  callerRequestId: string | null;

  /** Never a secret. */
  metadata: Record<string, unknown>;
}

export class AuditEventListDto {
  /** Newest first. */
  @ApiProperty({ type: [AuditEventDto] }) // items: see swagger-plugin.ts-jest.js
  events: AuditEventDto[];
}
