import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, Max, Min } from 'class-validator';

export const AUDIT_EVENTS_MAX_LIMIT = 500;
export const AUDIT_EVENTS_DEFAULT_LIMIT = 100;

export class ListAuditEventsQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: AUDIT_EVENTS_MAX_LIMIT, default: AUDIT_EVENTS_DEFAULT_LIMIT })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT_EVENTS_MAX_LIMIT)
  limit?: number;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Only events strictly older than this instant; pass the `at` of the last event to page on.',
  })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  before?: string;
}

export class AuditEventDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'date-time' })
  at: Date;

  @ApiProperty({ example: 'org-token:kso_3hG7kQ2x' })
  actor: string;

  @ApiProperty({ example: 'org_token.mint' })
  action: string;

  @ApiProperty({ example: 'org_token' })
  targetType: string;

  @ApiProperty({ type: String, nullable: true })
  targetId: string | null;

  @ApiProperty({ type: String, nullable: true })
  ip: string | null;

  @ApiProperty({ type: String, nullable: true })
  requestId: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Never a secret.' })
  metadata: Record<string, unknown>;
}

export class AuditEventListDto {
  @ApiProperty({ type: [AuditEventDto], description: 'Newest first.' })
  events: AuditEventDto[];
}
