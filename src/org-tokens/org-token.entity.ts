import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('org_tokens')
@Index('uq_org_tokens_live_hash', ['tokenHash'], { unique: true, where: 'revoked_at IS NULL' })
@Index('idx_org_tokens_created_at', ['createdAt'])
// Offboarding revokes the tokens a person's sessions minted.
@Index('idx_org_tokens_created_by', ['createdBy'])
export class OrgToken {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 100, nullable: true })
  name: string | null;

  /** SHA-256 of the plaintext, hex. The plaintext is never stored. */
  @Column({ name: 'token_hash', type: 'char', length: 64, select: false })
  tokenHash: string;

  /** First 12 characters of the plaintext, for display and audit. */
  @Column({ type: 'varchar', length: 12 })
  prefix: string;

  @Column({ name: 'created_by', type: 'varchar', length: 300 })
  createdBy: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
