import { Get, Query, StreamableFile } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  getSchemaPath,
} from '@nestjs/swagger';
import { AuditQueryService } from 'src/audit/audit-query.service';
import { AuditEventListDto, ListAuditEventsQueryDto } from 'src/audit/dto/audit-events.dto';
import { RequiresAdminScope } from 'src/auth/admin/admin-scopes';
import { AdminRateLimitedResponse, AdminRoutes } from 'src/auth/admin/admin-routes.decorators';

export const NDJSON = 'application/x-ndjson';

@AdminRoutes('api/v1/audit-events', 'audit')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @RequiresAdminScope('audit:read')
  @ApiOperation({
    summary: 'Audit events, newest first (mints, revocations, key creation, provisioning, ...)',
    description:
      'Filters: `actor`, `action`, `targetId` (exact), `before` / `after` (an event id or an instant). ' +
      '`format=ndjson` streams up to 100000 events as `application/x-ndjson`, one JSON event per line, ' +
      'newest first; an export that fails midway is cut off (the response never completes), so a ' +
      'truncated file is never mistaken for a complete one.',
  })
  @ApiExtraModels(AuditEventListDto)
  @ApiProduces('application/json', NDJSON)
  @ApiOkResponse({
    description: 'A page of events (JSON), or the export (NDJSON, one event per line).',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(AuditEventListDto) } },
      [NDJSON]: { schema: { type: 'string' } },
    },
  })
  @ApiBadRequestResponse({
    description:
      '`limit` not an integer in 1..500 (1..100000 with `format=ndjson`), `before` or `after` neither an event id nor a date, a filter too long, or an unknown parameter (`validation_failed`).',
  })
  @ApiForbiddenResponse({ description: 'An org token without the `audit:read` scope (`forbidden`).' })
  @AdminRateLimitedResponse()
  async list(@Query() query: ListAuditEventsQueryDto): Promise<AuditEventListDto | StreamableFile> {
    if (query.format === 'ndjson') return new StreamableFile(this.audit.export(query), { type: NDJSON });
    return this.audit.list(query);
  }
}
