import { ApiProperty } from '@nestjs/swagger';
import { ADMIN_SCOPES, type AdminScope } from 'src/auth/admin/admin-scopes';
import type { AdminTier } from 'src/auth/principal';

const ADMIN_TIERS: AdminTier[] = ['bootstrap', 'session', 'org_token', 'admin_token', 'api_key'];

export class WhoamiDto {
  /** The AdminAuth tier that accepted the request. */
  @ApiProperty({ enum: ADMIN_TIERS }) // AdminTier comes from another file: see swagger-plugin.ts-jest.js
  tier: AdminTier;

  /**
   * `bootstrap`, `session:<sub>`, `org-token:<prefix>`, `admin-token` or `api-key:<keyPrefix>`.
   * @example org-token:kso_3hG7kQ2x
   */
  actor: string;

  /** What the credential may do: an org token's scopes; `["admin"]` (everything) for every other tier. */
  @ApiProperty({ type: 'array', items: { type: 'string', enum: [...ADMIN_SCOPES] }, example: ['admin:read'] })
  scopes: AdminScope[];
}
