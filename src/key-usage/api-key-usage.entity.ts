import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ApiKey } from 'src/api-keys/api-key.entity';

/**
 * How often each API key was resolved, per hour (UTC) and outcome (issue 23, "Usage"): counted in memory by
 * every instance and added here in one batched upsert per flush (KeyUsageCounters, decision 0095). Gone with
 * its key; deleted after USAGE_RETENTION_DAYS.
 */
@Entity('api_key_usage')
@Index('idx_api_key_usage_hour', ['hour'])
export class ApiKeyUsage {
  /** `api_keys.id`. */
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid', primaryKeyConstraintName: 'pk_api_key_usage' })
  apiKeyId: string;

  /** The start of the hour (UTC) the resolves fell in. */
  @PrimaryColumn({ name: 'hour', type: 'timestamptz', primaryKeyConstraintName: 'pk_api_key_usage' })
  hour: Date;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'fk_api_key_usage_key' })
  key?: ApiKey;

  /** Resolves answered with the key's identity. */
  @Column({ type: 'bigint', default: 0 })
  valid: string;

  /** Resolves of the key refused: revoked, expired, switched off, insufficient scope, user disabled. */
  @Column({ type: 'bigint', default: 0 })
  refused: string;
}
