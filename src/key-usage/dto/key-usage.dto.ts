import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsIn, IsUUID } from 'class-validator';
import type { UsageGranularity } from 'src/key-usage/key-usage.repository';
import { OptionalField } from 'src/validation/body.decorators';
import { Instant } from 'src/validation/instants';

export const MAX_USAGE_KEY_IDS = 100;
export const MAX_USAGE_WINDOW_DAYS = 90;
export const DEFAULT_USAGE_WINDOW_HOURS = 24;
export const USAGE_GRANULARITIES = ['hour', 'day'] as const satisfies readonly UsageGranularity[];
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** The window and its buckets, shared by the developer and the admin read. */
class UsageWindowQueryDto {
  /** Start of the window (inclusive): buckets that start at or after it. Default `to` minus 24 hours. */
  @ApiProperty({ format: 'date-time' })
  @OptionalField()
  @Instant()
  from?: string;

  /**
   * End of the window (exclusive). Default now. After `from`, at most 90 days after it. `x-window-max-days`:
   * the window [from, to), with the defaults, must be non-empty and at most that many days long (a rule
   * between two parameters, which a schema cannot state).
   */
  @ApiProperty({ format: 'date-time', 'x-window-max-days': MAX_USAGE_WINDOW_DAYS } as ApiPropertyOptions)
  @OptionalField()
  @Instant()
  to?: string;

  /** `hour` buckets, or `day` (UTC days, the hour buckets summed). Default `hour`. */
  @ApiProperty({ enum: USAGE_GRANULARITIES, default: 'hour' })
  @OptionalField()
  @IsIn(USAGE_GRANULARITIES)
  granularity?: UsageGranularity;
}

export class DeveloperKeyUsageQueryDto extends UsageWindowQueryDto {
  /**
   * Comma-separated ids of your keys (a key's `id`), 1 to 100. Ids of keys that are not yours are left out of
   * the answer, as unknown ones are.
   */
  @ApiProperty({
    type: 'string',
    pattern: `^${UUID}(,${UUID}){0,${MAX_USAGE_KEY_IDS - 1}}$`,
    example: '3f1c2a4e-8b9d-4c7e-a1f2-0b3c4d5e6f70,9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.split(',') : value))
  @ArrayMinSize(1, { message: 'keyIds must name at least one key' })
  @ArrayMaxSize(MAX_USAGE_KEY_IDS, { message: `keyIds must name at most ${MAX_USAGE_KEY_IDS} keys` })
  @IsUUID('all', { each: true, message: 'keyIds must be a comma-separated list of UUIDs' })
  keyIds: string[];
}

export class AdminUsageQueryDto extends UsageWindowQueryDto {
  /** The user whose keys are counted (every key of theirs, revoked ones included). */
  @IsUUID()
  userId: string;
}

export class KeyUsageBucketDto {
  /** Start of the hour, or of the UTC day. */
  @ApiProperty({ format: 'date-time' })
  start: string;

  @ApiProperty({ type: 'integer', minimum: 0 })
  valid: number;

  @ApiProperty({ type: 'integer', minimum: 0 })
  refused: number;
}

export class KeyUsageDto {
  /** The key's `id`, as `keyIds` named it. */
  @ApiProperty({ format: 'uuid' })
  keyId: string;

  /** Resolves that answered the key's identity, in the window. */
  @ApiProperty({ type: 'integer', minimum: 0 })
  valid: number;

  /** Resolves of the key refused (revoked, expired, switched off, insufficient scope, user disabled). */
  @ApiProperty({ type: 'integer', minimum: 0 })
  refused: number;

  /** The buckets with any count, oldest first; buckets without any are left out. */
  @ApiProperty({ type: [KeyUsageBucketDto] })
  buckets: KeyUsageBucketDto[];
}

export class KeyUsageResponseDto {
  @ApiProperty({ type: [KeyUsageDto] })
  usage: KeyUsageDto[];
}
