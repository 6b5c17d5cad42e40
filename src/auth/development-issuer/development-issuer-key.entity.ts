import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The development issuer's key pair (decision 0045): generated once, outside production, when no identity
 * provider is configured, so that every instance sharing the database and `npm run dev:token` use the same
 * key. Never trusted in production.
 */
@Entity('development_issuer_keys')
export class DevelopmentIssuerKey {
  @PrimaryColumn({ type: 'varchar', length: 64, primaryKeyConstraintName: 'pk_development_issuer_keys' })
  kid: string;

  @Column({ type: 'varchar', length: 16 })
  alg: string;

  @Column({ name: 'private_key_pem', type: 'text', select: false })
  privateKeyPem: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
