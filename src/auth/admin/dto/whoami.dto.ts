import { ApiProperty } from '@nestjs/swagger';
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
}
