import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { isUUID } from 'class-validator';
import { Repository } from 'typeorm';
import { AuditEvent } from 'src/audit/audit-event.entity';
import { iso } from 'src/validation/instants';
import {
  AUDIT_EVENTS_DEFAULT_LIMIT,
  type AuditEventListDto,
  type ListAuditEventsQueryDto,
} from 'src/audit/dto/audit-events.dto';

/** Reads the audit log for the admin API. */
@Injectable()
export class AuditQueryService {
  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {}

  /**
   * Newest first. `before` is an event id (exact keyset paging on (at, id), at the database's microsecond
   * precision, so no event is skipped or repeated) or an ISO instant (events strictly older).
   */
  async list({
    limit = AUDIT_EVENTS_DEFAULT_LIMIT,
    before,
  }: ListAuditEventsQueryDto): Promise<AuditEventListDto> {
    const query = this.events
      .createQueryBuilder('e')
      .orderBy('e.at', 'DESC')
      .addOrderBy('e.id', 'DESC')
      .limit(limit);
    if (before !== undefined && isUUID(before)) {
      // An unknown id matches nothing, so the page is empty rather than restarting from the top.
      query.where('(e.at, e.id) < (SELECT c.at, c.id FROM audit_events c WHERE c.id = :before)', { before });
    } else if (before !== undefined) {
      query.where('e.at < :before', { before: new Date(before) });
    }
    const rows = await query.getMany();
    return {
      events: rows.map(
        ({ id, at, actor, action, targetType, targetId, ip, requestId, callerRequestId, metadata }) => ({
          id,
          at: iso(at),
          actor,
          action,
          targetType,
          targetId,
          ip,
          requestId,
          callerRequestId,
          metadata,
        }),
      ),
    };
  }
}
