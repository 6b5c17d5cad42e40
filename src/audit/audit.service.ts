import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { AuditEvent } from 'src/audit/audit-event.entity';

/** Who acted, from where: taken from the authenticated request. */
export interface AuditContext {
  actor: string;
  ip: string | null;
  /** The id this service gave the request: never one the caller chose. */
  requestId: string | null;
  /** The caller's own well-formed `x-request-id`, kept apart; null or absent when it sent none. */
  callerRequestId?: string | null;
}

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId?: string | null;
  /** Never a secret: ids, prefixes, names, counts. */
  metadata?: Record<string, unknown>;
}

@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {}

  /** Pass the transaction's manager so the row commits or rolls back with the change it records. */
  async record(ctx: AuditContext, entry: AuditEntry, manager?: EntityManager): Promise<void> {
    await this.recordMany(ctx, [entry], manager);
  }

  /** Several rows of one request in one INSERT (an offboarding revokes a thousand keys at once). */
  async recordMany(
    ctx: AuditContext,
    entries: readonly AuditEntry[],
    manager?: EntityManager,
  ): Promise<void> {
    if (entries.length === 0) return;
    const repo = manager ? manager.getRepository(AuditEvent) : this.events;
    await repo.insert(
      entries.map((entry) => ({
        actor: ctx.actor,
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId ?? null,
        ip: ctx.ip,
        requestId: ctx.requestId,
        callerRequestId: ctx.callerRequestId ?? null,
        metadata: (entry.metadata ?? {}) as never,
      })),
    );
  }
}
