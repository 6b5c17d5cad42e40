import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, isUUID, Max, Min, ValidateIf } from 'class-validator';
import { IsoDate } from 'src/validation/instants';

export const AUDIT_EVENTS_MAX_LIMIT = 500;
export const AUDIT_EVENTS_DEFAULT_LIMIT = 100;

export class ListAuditEventsQueryDto {
  @ApiProperty({ type: 'integer', default: AUDIT_EVENTS_DEFAULT_LIMIT })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT_EVENTS_MAX_LIMIT)
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
