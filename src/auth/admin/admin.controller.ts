import { Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AnyAdminScope } from 'src/auth/admin/admin-scopes';
import { WhoamiDto } from 'src/auth/admin/dto/whoami.dto';
import { AdminRateLimitedResponse, AdminRoutes } from 'src/auth/admin/admin-routes.decorators';
import { CurrentPrincipal } from 'src/auth/current-principal.decorator';
import type { AdminPrincipal } from 'src/auth/principal';

@AdminRoutes('api/v1/admin', 'admin')
export class AdminController {
  @Get('whoami')
  // Every admin credential may ask what it is and what it may do, whatever its scopes (decision 0070).
  @AnyAdminScope()
  @ApiOperation({
    summary: 'Which AdminAuth tier and actor the presented credential is, and its scopes',
    description: 'Open to every admin credential, whatever its scopes.',
  })
  @ApiOkResponse({ type: WhoamiDto })
  @AdminRateLimitedResponse()
  whoami(@CurrentPrincipal('admin') principal: AdminPrincipal): WhoamiDto {
    return { tier: principal.tier, actor: principal.actor, scopes: [...principal.scopes] };
  }
}
