import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { isUUID } from 'class-validator';
import { Readable } from 'node:stream';
import { Repository, type SelectQueryBuilder } from 'typeorm';
import { AuditEvent } from 'src/audit/audit-event.entity';
import { ApiError } from 'src/errors/api-error';
import { iso } from 'src/validation/instants';
import {
  AUDIT_EVENTS_DEFAULT_LIMIT,
  AUDIT_EVENTS_MAX_LIMIT,
  AUDIT_EXPORT_MAX_LIMIT,
  type AuditEventDto,
  type AuditEventListDto,
  type ListAuditEventsQueryDto,
} from 'src/audit/dto/audit-events.dto';

/** Rows an export reads per query: its memory is this many events, whatever the export's size. */
export const EXPORT_BATCH_SIZE = 1000;

/** Reads the audit log for the admin API: a page as JSON, or a streamed NDJSON export. */
@Injectable()
export class AuditQueryService {
  private readonly logger = new Logger('AuditExport');

  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {}

  /**
   * Newest first; oldest first when `after` is given, so `limit` keeps the events right after it and a SIEM
   * polling `after=<the last id it holds>` walks forward without a gap (newest first, the limit would keep the
   * newest and drop those in between for good). `before` / `after` are an event id (exact keyset paging on
   * (at, id), at the database's microsecond precision, so no event is skipped or repeated) or an ISO instant
   * (events strictly older / newer); `actor`, `action` and `targetId` match exactly.
   */
  async list(query: ListAuditEventsQueryDto): Promise<AuditEventListDto> {
    const limit = query.limit ?? AUDIT_EVENTS_DEFAULT_LIMIT;
    // The JSON page keeps its bound; only the streamed export goes further.
    if (limit > AUDIT_EVENTS_MAX_LIMIT) {
      const message = `limit must not be greater than ${AUDIT_EVENTS_MAX_LIMIT} (up to ${AUDIT_EXPORT_MAX_LIMIT} with format=ndjson)`;
      throw ApiError.validation(message, [{ field: 'limit', messages: [message] }]);
    }
    const rows = await this.filtered(query).limit(limit).getMany();
    return { events: rows.map(toDto) };
  }

  /**
   * The same events as NDJSON, one per line, in the same order (newest first; oldest first with `after`), read EXPORT_BATCH_SIZE at a time, each batch
   * keyset-paged after the last event sent and fetched only when the reader wants more (backpressure): memory
   * stays constant, and no connection or transaction is held between batches. A failing batch destroys the
   * stream: the response ends without its terminating chunk, so the client sees a broken transfer, never a
   * short export that looks complete.
   */
  export(query: ListAuditEventsQueryDto): Readable {
    let remaining = query.limit ?? AUDIT_EXPORT_MAX_LIMIT;
    let lastId: string | undefined;
    const stream: Readable = new Readable({
      read: () => {
        if (remaining <= 0) {
          stream.push(null);
          return;
        }
        const batch = this.filtered(query);
        if (lastId !== undefined)
          batch.andWhere(
            `(e.at, e.id) ${oldestFirst(query) ? '>' : '<'} (SELECT c.at, c.id FROM audit_events c WHERE c.id = :lastId)`,
            { lastId },
          );
        batch
          .limit(Math.min(EXPORT_BATCH_SIZE, remaining))
          .getMany()
          .then((rows) => {
            remaining -= rows.length;
            lastId = rows.at(-1)?.id;
            if (rows.length === 0) remaining = 0;
            const text = rows.map((row) => `${JSON.stringify(toDto(row))}\n`).join('');
            if (text) stream.push(text);
            if (remaining <= 0) stream.push(null);
          })
          .catch((err: unknown) => {
            this.logger.error(`audit export failed mid-stream: ${(err as Error).name}`);
            stream.destroy(err as Error);
          });
      },
    });
    return stream;
  }

  private filtered(query: ListAuditEventsQueryDto): SelectQueryBuilder<AuditEvent> {
    const order = oldestFirst(query) ? 'ASC' : 'DESC';
    const q = this.events.createQueryBuilder('e').orderBy('e.at', order).addOrderBy('e.id', order);
    const { before, after, actor, action, targetId } = query;
    if (before !== undefined && isUUID(before)) {
      // An unknown id matches nothing, so the page is empty rather than restarting from the top.
      q.andWhere('(e.at, e.id) < (SELECT b.at, b.id FROM audit_events b WHERE b.id = :before)', { before });
    } else if (before !== undefined) {
      q.andWhere('e.at < :beforeAt', { beforeAt: new Date(before) });
    }
    if (after !== undefined && isUUID(after)) {
      q.andWhere('(e.at, e.id) > (SELECT a.at, a.id FROM audit_events a WHERE a.id = :after)', { after });
    } else if (after !== undefined) {
      q.andWhere('e.at > :afterAt', { afterAt: new Date(after) });
    }
    if (actor !== undefined) q.andWhere('e.actor = :actor', { actor });
    if (action !== undefined) q.andWhere('e.action = :action', { action });
    if (targetId !== undefined) q.andWhere('e.target_id = :targetId', { targetId });
    return q;
  }
}

/** With `after`, events come oldest first: the limit then cuts the newest, which the next poll reads. */
function oldestFirst(query: ListAuditEventsQueryDto): boolean {
  return query.after !== undefined;
}

function toDto({
  id,
  at,
  actor,
  action,
  targetType,
  targetId,
  ip,
  requestId,
  callerRequestId,
  metadata,
}: AuditEvent): AuditEventDto {
  return { id, at: iso(at), actor, action, targetType, targetId, ip, requestId, callerRequestId, metadata };
}
