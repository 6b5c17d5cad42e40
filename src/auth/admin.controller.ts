import { Controller, Get, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { AdminAuth } from 'src/auth/auth.decorators';
import { WhoamiDto } from 'src/auth/dto/whoami.dto';
import { ApiError } from 'src/errors/api-error';

@ApiTags('admin')
@AdminAuth()
@Controller('api/v1/admin')
export class AdminController {
  @Get('whoami')
  @ApiOperation({ summary: 'Which AdminAuth tier and actor the presented credential is' })
  @ApiOkResponse({ type: WhoamiDto })
  @ApiTooManyRequestsResponse({ description: 'Admin rate limit (`rate_limited`, with `Retry-After`).' })
  whoami(@Req() req: Request): WhoamiDto {
    const principal = req.principal;
    // Unreachable behind @AdminAuth; keeps the type honest.
    if (principal?.kind !== 'admin') throw ApiError.unauthorized();
    return { tier: principal.tier, actor: principal.actor };
  }
}
