import { Get, Header, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { RequiresAdminScope } from 'src/auth/admin/admin-scopes';
import { AdminRateLimitedResponse, AdminRoutes } from 'src/auth/admin/admin-routes.decorators';
import { AdminUsageQueryDto, KeyUsageResponseDto } from 'src/key-usage/dto/key-usage.dto';
import { KeyUsageService } from 'src/key-usage/key-usage.service';
import { USAGE_CONTENT_TYPE } from 'src/key-usage/usage-json';

@AdminRoutes('api/v1/admin/usage', 'admin inventory')
export class AdminUsageController {
  constructor(private readonly usage: KeyUsageService) {}

  @Get()
  @Header('Content-Type', USAGE_CONTENT_TYPE)
  @RequiresAdminScope('admin:read')
  @ApiOperation({
    summary: 'How often each key of one user was resolved, valid and refused, per hour or day',
    description:
      'Every key of the user (revoked ones included), newest first, with its counts in [from, to) (default ' +
      'the last 24 hours, at most 90 days) and the buckets that hold any count. An unknown user has no keys.',
  })
  @ApiOkResponse({ type: KeyUsageResponseDto })
  @ApiBadRequestResponse({
    description:
      '`userId` missing or not a UUID; `from`/`to` not instants, `from` not before `to`, or a window longer ' +
      'than 90 days (`validation_failed`).',
  })
  @AdminRateLimitedResponse()
  usageOf(@Query() query: AdminUsageQueryDto): Promise<Buffer> {
    return this.usage.forAdmin(query);
  }
}
