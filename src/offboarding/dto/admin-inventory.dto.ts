import { ApiProperty, type ApiPropertyOptions } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { API_KEY_STATUSES, type ApiKeyStatus } from 'src/api-keys/api-key.entity';
import { ApiKeyDto } from 'src/api-keys/dto/api-key.dto';
import { FreeText, OptionalField } from 'src/validation/body.decorators';

export const INVENTORY_MAX_LIMIT = 200;
export const INVENTORY_DEFAULT_LIMIT = 50;
export const CURSOR_MAX = 256;
export const SEARCH_MAX = 100;
export const USER_STATUSES = ['ACTIVE', 'DISABLED'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** `limit` and `cursor`, shared by the admin lists. */
class PageQueryDto {
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    maximum: INVENTORY_MAX_LIMIT,
    default: INVENTORY_DEFAULT_LIMIT,
  })
  @OptionalField()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(INVENTORY_MAX_LIMIT)
  limit?: number;

  /**
   * The `nextCursor` of the previous page, with the same filters (another filter's cursor is a 400).
   * `x-opaque`: only a value this service issued is valid, whatever the pattern allows.
   */
  @ApiProperty({ maxLength: CURSOR_MAX, pattern: '^[A-Za-z0-9_-]+$', 'x-opaque': true } as ApiPropertyOptions)
  @OptionalField()
  @IsString()
  @MaxLength(CURSOR_MAX)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not a cursor this list issued' })
  cursor?: string;
}

export class AdminListApiKeysQueryDto extends PageQueryDto {
  /** Only this user's keys. */
  @OptionalField()
  @IsUUID()
  userId?: string;

  /** Only the keys of the user with this external id (the identity provider's subject). */
  @FreeText({ min: 1, max: 255 })
  @OptionalField()
  externalId?: string;

  /** Only keys of this project. */
  @OptionalField()
  @IsUUID()
  projectId?: string;

  @ApiProperty({ enum: API_KEY_STATUSES })
  @OptionalField()
  @IsIn(API_KEY_STATUSES)
  status?: ApiKeyStatus;

  /** Keys whose label or key prefix starts with this (case-insensitive). */
  @FreeText({ min: 1, max: SEARCH_MAX })
  @OptionalField()
  q?: string;
}

export class AdminListUsersQueryDto extends PageQueryDto {
  /** Users whose external id, email or name starts with this (case-insensitive). */
  @FreeText({ min: 1, max: SEARCH_MAX })
  @OptionalField()
  q?: string;

  @ApiProperty({ enum: USER_STATUSES })
  @OptionalField()
  @IsIn(USER_STATUSES)
  status?: UserStatus;
}

export class KeyOwnerDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  externalId: string;

  email: string | null;
}

export class AdminApiKeyDto extends ApiKeyDto {
  user: KeyOwnerDto;
}

export class AdminApiKeyListDto {
  /** Newest first. */
  @ApiProperty({ type: [AdminApiKeyDto] }) // items: see swagger-plugin.ts-jest.js
  keys: AdminApiKeyDto[];

  /** Pass as `cursor` for the next page; null on the last page. */
  @ApiProperty({ type: String, nullable: true })
  nextCursor: string | null;
}

export class AdminApiKeyResponseDto {
  key: AdminApiKeyDto;
}

export class AdminUserDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  externalId: string;

  email: string | null;

  name: string | null;

  @ApiProperty({ enum: USER_STATUSES })
  status: UserStatus;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  disabledAt: string | null;

  /** Keys that are neither revoked nor expired (active or disabled). */
  @ApiProperty({ type: 'integer' })
  liveKeyCount: number;
}

export class AdminUserListDto {
  /** Newest first. */
  @ApiProperty({ type: [AdminUserDto] }) // items: see swagger-plugin.ts-jest.js
  users: AdminUserDto[];

  /** Pass as `cursor` for the next page; null on the last page. */
  @ApiProperty({ type: String, nullable: true })
  nextCursor: string | null;
}

export class AdminUserResponseDto {
  user: AdminUserDto;
}
