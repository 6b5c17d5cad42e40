import { ApiProperty } from '@nestjs/swagger';
import type { AdminTier } from 'src/auth/principal';

const ADMIN_TIERS: AdminTier[] = ['bootstrap', 'session', 'org_token', 'admin_token', 'api_key'];

export class WhoamiDto {
  @ApiProperty({ enum: ADMIN_TIERS, description: 'The AdminAuth tier that accepted the request.' })
  tier: AdminTier;

  @ApiProperty({
    example: 'org-token:kso_3hG7kQ2x',
    description:
      '`bootstrap`, `session:<sub>`, `org-token:<prefix>`, `admin-token` or `api-key:<keyPrefix>`.',
  })
  actor: string;
}
