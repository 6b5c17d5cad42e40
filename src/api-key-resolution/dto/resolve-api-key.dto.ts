import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { MAX_SCOPES, ScopeList } from 'src/api-keys/scopes';
import { OptionalField } from 'src/validation/body.decorators';

export const MAX_PRESENTED_KEY_LENGTH = 1024;

export class ResolveApiKeyDto {
  /**
   * The API key a caller presented, `ksk_<keyId>_<secret>_<checksum>` (or a key minted before the checksum,
   * `ksk_<keyId>_<secret>`). Anything not shaped like a key, or with a wrong checksum, is a 401, without a
   * database lookup.
   * @example ksk_0123456789abcdef_…_…
   */
  @IsString()
  @MaxLength(MAX_PRESENTED_KEY_LENGTH)
  key: string;

  @OptionalField()
  @ScopeList(
    `Scopes the key must hold (at most ${MAX_SCOPES}, no duplicates): a live key lacking any answers 403 ` +
      '`insufficient_scope` naming the missing ones.',
  )
  requiredScopes?: string[];
}

export class ResolvedUserDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  externalId: string;

  email: string | null;

  name: string | null;
}

export class ResolvedProjectDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  name: string;
}

/** A rolled key in its grace: which key replaces it, and until when it resolves at the latest. */
export class ResolvedRollingDto {
  /** The new key's `id` (as on the developer surface, where its owner sees both). */
  @ApiProperty({ format: 'uuid' })
  successorId: string;

  /** The old key resolves until then at the latest (earlier when the roll's `endGraceWhenUnusedFor` ends the grace). */
  @ApiProperty({ format: 'date-time' })
  graceEndsAt: string;
}

export class ResolveApiKeyResponseDto {
  /**
   * The key’s public lookup id (16 hex).
   * @example 0123456789abcdef
   */
  keyId: string;

  user: ResolvedUserDto;

  project: ResolvedProjectDto;

  /** Browser origins the key may be used from; empty: any. */
  @ApiProperty({ type: [String] }) // items: see swagger-plugin.ts-jest.js
  allowedOrigins: string[];

  /** The key's scopes; empty: none. */
  @ApiProperty({ type: [String] }) // items: see swagger-plugin.ts-jest.js
  scopes: readonly string[];

  @ApiProperty({ format: 'date-time' })
  expiresAt: string | null;

  /** A JWT minted for this call (never cached): `sub` is the user id, with `project_id`, `key_id` and `external_id` claims, and `scope` (the key's scopes, space-separated) when the key has any; valid 5 minutes; verify it with `GET /.well-known/jwks.json`. */
  token: string;

  @ApiProperty({ format: 'date-time' })
  tokenExpiresAt: string;

  /** Present only while the key is a rolled one in its grace: its owner rolled it, the caller should move to the new key. */
  rolling?: ResolvedRollingDto;
}
