import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { ADMIN_SCOPES, type AdminScope } from 'src/auth/admin/admin-scopes';

/**
 * Why an org token was revoked: by an admin, rolled away, reported by a secret scanner (`leaked`) or through
 * the public revoke endpoint (`reported`), or with its minting user's offboarding. Null on tokens revoked
 * before reasons were recorded (migration AddOrgTokenRevokedReason).
 */
export const ORG_TOKEN_REVOKED_REASONS = ['admin', 'rolled', 'leaked', 'reported', 'offboarding'] as const;
export type OrgTokenRevokedReason = (typeof ORG_TOKEN_REVOKED_REASONS)[number];

@Entity('org_tokens')
@Check(
  'chk_org_tokens_revoked_reason',
  `"revoked_reason" IN ('admin', 'rolled', 'leaked', 'reported', 'offboarding')`,
)
@Check('chk_org_tokens_reason_only_revoked', `"revoked_reason" IS NULL OR "revoked_at" IS NOT NULL`)
@Index('uq_org_tokens_live_hash', ['tokenHash'], { unique: true, where: 'revoked_at IS NULL' })
@Index('idx_org_tokens_created_at', ['createdAt'])
// A token is rolled once: at most one successor names it.
@Index('uq_org_tokens_successor', ['successorId'], { unique: true })
// The catalog of ADMIN_SCOPES, and never none: a row cannot hold a scope the code does not know.
@Check(
  'chk_org_tokens_scopes',
  `cardinality("scopes") > 0 AND "scopes" <@ ARRAY[${ADMIN_SCOPES.map((s) => `'${s}'`).join(', ')}]::text[]`,
)
@Index('idx_org_tokens_created_by', ['createdBy'])
// Offboarding revokes the tokens of a person's lineage (decision 0110).
@Index('idx_org_tokens_minted_for', ['mintedFor'])
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

  /** What the token may do on the admin surface, in catalog order (decision 0070). */
  @Column({ type: 'text', array: true, default: () => "'{admin}'" })
  scopes: AdminScope[];

  @Column({ name: 'created_by', type: 'varchar', length: 300 })
  createdBy: string;

  /**
   * Whose token this is, the root of its lineage (decision 0110): its minter's actor (`session:<sub>`,
   * `admin-token`, `bootstrap`, ...), except that a token another org token minted, and a roll's successor,
   * inherit the minting or rolled token's. Offboarding a user revokes every live token `session:<their sub>`.
   */
  @Column({ name: 'minted_for', type: 'varchar', length: 300 })
  mintedFor: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  /** The token this one was rolled into; null until it is rolled. */
  @Column({ name: 'successor_id', type: 'uuid', nullable: true })
  successorId: string | null;

  @ManyToOne(() => OrgToken, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'successor_id' })
  successor?: OrgToken | null;

  /** A rolled token works until then: the earlier of its expiry and the roll's grace. */
  @Column({ name: 'grace_ends_at', type: 'timestamptz', nullable: true })
  graceEndsAt: Date | null;

  /** Why it was revoked (ORG_TOKEN_REVOKED_REASONS); null while live, and on tokens revoked before reasons. */
  @Column({ name: 'revoked_reason', type: 'varchar', length: 16, nullable: true })
  revokedReason: OrgTokenRevokedReason | null;
}
