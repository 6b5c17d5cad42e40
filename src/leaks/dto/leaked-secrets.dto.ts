import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';

/** The longest string the public revoke takes as `key` (a key is 92 characters, an org token 42). */
export const MAX_REPORTED_KEY_LENGTH = 1024;

/**
 * A secret-scanning report, as GitHub sends it: a JSON array of matches. Only `token` is required; fields the
 * scanner may add later are accepted (and ignored), so the schema is open, unlike every other body.
 */
export const SECRET_SCANNING_REPORT_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    required: ['token'],
    additionalProperties: true,
    properties: {
      token: {
        type: 'string',
        description: 'The string the scanner found: anything, a keysmith secret or not.',
      },
      type: {
        type: 'string',
        description:
          'The type name the format was registered under (`keysmith_api_key`, `keysmith_org_token`).',
        example: 'keysmith_api_key',
      },
      url: {
        type: 'string',
        description: 'The public URL where it was found (may be empty).',
        example:
          'https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt',
      },
      source: {
        type: 'string',
        description: 'Where on GitHub it was found (`content`, `commit`, `issue_comment`, …).',
        example: 'content',
      },
    },
  },
};

/** The feedback on one match, in GitHub's format; one per match of the report, in its order. */
export class SecretScanningFeedbackDto {
  /** The match's `token`, as reported. */
  token_raw: string;

  /**
   * The match's `type`; when it had none, `keysmith_api_key`, `keysmith_org_token` or `unknown`.
   * @example keysmith_api_key
   */
  token_type: string;

  /**
   * `true_positive`: a keysmith secret that is or was real (live, revoked, expired); it is revoked now if it
   * was not. `false_positive`: anything else, other vendors' tokens included.
   */
  @ApiProperty({ enum: ['true_positive', 'false_positive'] })
  label: 'true_positive' | 'false_positive';
}

export class PublicRevokeDto {
  /**
   * A keysmith secret to revoke: an API key (`ksk_…`) or an org token (`kso_…`). Whatever the string, the
   * answer is the same.
   * @example ksk_0123456789abcdef_…_…
   */
  @IsString()
  @MaxLength(MAX_REPORTED_KEY_LENGTH)
  key: string;
}

/** Always empty: the answer never says whether the key existed. */
export class PublicRevokeResponseDto {}
