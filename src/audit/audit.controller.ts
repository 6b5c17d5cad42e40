import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { AuditQueryService } from 'src/audit/audit-query.service';
import {
  AUDIT_EVENTS_DEFAULT_LIMIT,
  AuditEventListDto,
  ListAuditEventsQueryDto,
} from 'src/audit/dto/audit-events.dto';
import { AdminAuth } from 'src/auth/auth.decorators';

@ApiTags('audit')
@AdminAuth()
@Controller('api/v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @ApiOperation({
    summary: 'Audit events, newest first (mints, revocations, key creation, provisioning, ...)',
  })
  @ApiOkResponse({ type: AuditEventListDto })
  @ApiTooManyRequestsResponse({ description: 'Admin rate limit (`rate_limited`, with `Retry-After`).' })
  async list(@Query() query: ListAuditEventsQueryDto): Promise<AuditEventListDto> {
    const rows = await this.audit.list(query.limit ?? AUDIT_EVENTS_DEFAULT_LIMIT, query.before);
    return {
      events: rows.map(({ id, at, actor, action, targetType, targetId, ip, requestId, metadata }) => ({
        id,
        at,
        actor,
        action,
        targetType,
        targetId,
        ip,
        requestId,
        metadata,
      })),
    };
  }
}
