import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ApiKey } from 'src/api-keys/api-key.entity';

/**
 * The M2M clients that resolved an API key, with when each did first and last (issue 19, "Consumers"). Written
 * off the resolution path by ApiKeyUsageRecorder, to about a minute's precision; at most
 * MAX_CONSUMERS_PER_KEY rows per key, the most recently seen kept (decision 0065).
 */
@Entity('api_key_consumers')
export class ApiKeyConsumer {
  /** `api_keys.id`. */
  @PrimaryColumn({ name: 'key_id', type: 'uuid', primaryKeyConstraintName: 'pk_api_key_consumers' })
  keyId: string;

  /** The resolving token's client id (at most 255 characters, see src/auth/jwt/token-shape.ts). */
  @PrimaryColumn({
    name: 'client_id',
    type: 'varchar',
    length: 255,
    primaryKeyConstraintName: 'pk_api_key_consumers',
  })
  clientId: string;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'key_id', foreignKeyConstraintName: 'fk_api_key_consumers_key' })
  key?: ApiKey;

  @Column({ name: 'first_resolved_at', type: 'timestamptz' })
  firstResolvedAt: Date;

  @Column({ name: 'last_resolved_at', type: 'timestamptz' })
  lastResolvedAt: Date;
}
