import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { AnyAdminScope } from 'src/auth/admin/admin-scopes';
import { WhoamiDto } from 'src/auth/admin/dto/whoami.dto';
import { AdminAuth } from 'src/auth/auth.decorators';
import { CurrentPrincipal } from 'src/auth/current-principal.decorator';
import type { AdminPrincipal } from 'src/auth/principal';

@ApiTags('admin')
@AdminAuth()
@Controller('api/v1/admin')
export class AdminController {
  @Get('whoami')
  // Every admin credential may ask what it is and what it may do, whatever its scopes (decision 0070).
  @AnyAdminScope()
  @ApiOperation({
    summary: 'Which AdminAuth tier and actor the presented credential is, and its scopes',
    description: 'Open to every admin credential, whatever its scopes.',
  })
  @ApiOkResponse({ type: WhoamiDto })
  @ApiTooManyRequestsResponse({ description: 'Admin rate limit (`rate_limited`, with `Retry-After`).' })
  whoami(@CurrentPrincipal('admin') principal: AdminPrincipal): WhoamiDto {
    return { tier: principal.tier, actor: principal.actor, scopes: [...principal.scopes] };
  }
}
