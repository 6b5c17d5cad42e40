import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The development signing key, generated once when TOKEN_SIGNING_KEY is unset so that every instance
 * sharing the database signs with, and publishes, the same key. Production configures TOKEN_SIGNING_KEY.
 */
@Entity('signing_keys')
export class SigningKey {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  kid: string;

  @Column({ type: 'varchar', length: 16 })
  alg: string;

  @Column({ name: 'private_key_pem', type: 'text', select: false })
  privateKeyPem: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;
}
