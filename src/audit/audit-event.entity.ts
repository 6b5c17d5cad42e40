import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('audit_events')
@Index('idx_audit_events_at', ['at', 'id'])
// The audit filters (actor, action, targetId), each paged newest first.
@Index('idx_audit_events_actor_at', ['actor', 'at', 'id'])
@Index('idx_audit_events_action_at', ['action', 'at', 'id'])
@Index('idx_audit_events_target_at', ['targetId', 'at', 'id'])
export class AuditEvent {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at: Date;

  /** Who did it: `session:<sub>`, `org-token:<prefix>`, `admin-token`, `m2m:<clientId>`, ... */
  @Column({ type: 'varchar', length: 300 })
  actor: string;

  @Column({ type: 'varchar', length: 64 })
  action: string;

  @Column({ name: 'target_type', type: 'varchar', length: 64 })
  targetType: string;

  @Column({ name: 'target_id', type: 'varchar', length: 255, nullable: true })
  targetId: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  /** The id keysmith gave the request (a UUID); never one a caller chose. */
  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId: string | null;

  /** The caller's own well-formed `x-request-id`, when it sent one: kept apart from `requestId`. */
  @Column({ name: 'caller_request_id', type: 'varchar', length: 128, nullable: true })
  callerRequestId: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;
}
