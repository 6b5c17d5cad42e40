import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsInt, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_GRACE_SECONDS } from 'src/api-keys/grace';
import { MAX_SCOPES, ScopeList } from 'src/api-keys/scopes';
import { FreeText, OptionalField, SAFE_TEXT_PATTERN, SafeText } from 'src/validation/body.decorators';

export const DEFAULT_PROVISIONED_KEY_NAME = 'provisioned';

export class ProvisionApiKeyDto {
  /**
   * The user’s id at the identity provider (a session token’s `sub`): found or created. Surrounding whitespace is trimmed.
   * @example auth0|64f1c2
   */
  @FreeText({ min: 1, max: 255 })
  externalId: string;

  /**
   * Written on a user this call creates, and on one provisioning created for an org this client may serve; a settings-UI user’s or another org’s user’s profile is left as it is. Like a name, without control,
   * bidirectional-control or zero-width characters: resolve hands it downstream.
   * @example ada@example.com
   */
  @ApiProperty({ pattern: SAFE_TEXT_PATTERN })
  @IsString()
  @MaxLength(320)
  @IsEmail()
  @SafeText()
  email: string;

  /**
   * Stored on the user when given (same rule as `email`).
   * @example "Ada Lovelace"
   */
  @OptionalField()
  @FreeText({ max: 200 })
  name?: string;

  /**
   * An org the calling client may provision for (PROVISION_CLIENTS, within PROVISION_ALLOWED_ORG_IDS), otherwise 403.
   * @example org_123
   */
  @FreeText({ min: 1, max: 255 })
  orgId: string;

  /** The key’s name (its label). The user’s live key with this name that provisioning minted is replaced (rolled with `graceSeconds`); keys minted or stored in the settings UI stay, and so do earlier replaced keys still in their grace. */
  @ApiProperty({ default: DEFAULT_PROVISIONED_KEY_NAME })
  @OptionalField()
  @FreeText({ min: 1, max: 100 })
  keyName?: string;

  @OptionalField()
  @ScopeList(
    `The new key's scopes, at most ${MAX_SCOPES}, no duplicates; only those of API_KEY_SCOPES when it is set. Default none.`,
  )
  scopes?: string[];

  /** How long the replaced key keeps resolving (seconds, at most 30 days, never past its own expiry): it is rolled into the new key with this grace. 0 (the default): it is revoked at once (reason `provisioning`). */
  @ApiProperty({ type: 'integer', default: 0, minimum: 0, maximum: MAX_GRACE_SECONDS })
  @OptionalField()
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_SECONDS)
  graceSeconds?: number;
}

export class ProvisionApiKeyResponseDto {
  /**
   * The plaintext key, `ksk_<keyId>_<secret>_<checksum>`: returned only here, never stored or logged.
   * @example ksk_0123456789abcdef_…_…
   */
  apiKey: string;

  @ApiProperty({ format: 'uuid' })
  userId: string;

  /** The user’s default project, which holds the key. */
  @ApiProperty({ format: 'uuid' })
  projectId: string;

  /**
   * The key’s public lookup id (16 hex).
   * @example 0123456789abcdef
   */
  keyId: string;

  /** The key this one replaced (its `id` on the developer surface; it is the new key's `predecessorId`), or null when the user had no live key of that name. */
  @ApiProperty({ format: 'uuid' })
  previousKeyId: string | null;
}
