import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ApiKey } from 'src/api-keys/api-key.entity';

/**
 * One closed UTC day of one key's hour buckets, compacted from `api_key_usage` by the usage sweep (decision
 * 0117) so that a read of many days visits a row per day instead of one per hour. Gone with its key; deleted
 * once the whole day is older than USAGE_RETENTION_DAYS.
 */
@Entity('api_key_usage_days')
@Index('idx_api_key_usage_days_day', ['day'])
export class ApiKeyUsageDay {
  /** `api_keys.id`. */
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid', primaryKeyConstraintName: 'pk_api_key_usage_days' })
  apiKeyId: string;

  /** The start of the UTC day. */
  @PrimaryColumn({ name: 'day', type: 'timestamptz', primaryKeyConstraintName: 'pk_api_key_usage_days' })
  day: Date;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'fk_api_key_usage_days_key' })
  key?: ApiKey;

  /**
   * The day's hour buckets as the usage read's text: `start,valid,refused` triples joined by commas, start in
   * epoch seconds. Oldest first, unless a late flush for the day was compacted after it (then appended); an
   * hour may then appear twice, and the read adds them up.
   */
  @Column({ type: 'text' })
  counts: string;

  /** The sum of the day's valid resolves. */
  @Column({ type: 'bigint' })
  valid: string;

  /** The sum of the day's refused resolves. */
  @Column({ type: 'bigint' })
  refused: string;
}
