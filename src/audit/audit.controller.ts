import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { AuditQueryService } from 'src/audit/audit-query.service';
import { AuditEventListDto, ListAuditEventsQueryDto } from 'src/audit/dto/audit-events.dto';
import { RequiresAdminScope } from 'src/auth/admin/admin-scopes';
import { AdminAuth } from 'src/auth/auth.decorators';

@ApiTags('audit')
@AdminAuth()
@Controller('api/v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @RequiresAdminScope('audit:read')
  @ApiOperation({
    summary: 'Audit events, newest first (mints, revocations, key creation, provisioning, ...)',
  })
  @ApiOkResponse({ type: AuditEventListDto })
  @ApiBadRequestResponse({
    description:
      '`limit` not an integer in 1..500, `before` neither an event id nor a date, or an unknown parameter (`validation_failed`).',
  })
  @ApiTooManyRequestsResponse({ description: 'Admin rate limit (`rate_limited`, with `Retry-After`).' })
  list(@Query() query: ListAuditEventsQueryDto): Promise<AuditEventListDto> {
    return this.audit.list(query);
  }
}
