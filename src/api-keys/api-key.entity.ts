import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { BillingProvider } from 'src/billing-providers/billing-provider.entity';
import { Project } from 'src/projects/project.entity';
import { User } from 'src/users/user.entity';

/**
 * Where a key came from: `minted` by its user in the settings UI, `provisioned` by an internal service, or
 * `provider`, a key a billing provider issued that the user stored. Provisioning revokes only its own.
 */
export const API_KEY_ORIGINS = ['minted', 'provisioned', 'provider'] as const;
export type ApiKeyOrigin = (typeof API_KEY_ORIGINS)[number];

/** Why a key was revoked; null on keys revoked before reasons were recorded (migration AddApiKeyStates). */
export const API_KEY_REVOKED_REASONS = [
  'user',
  'admin',
  'provisioning',
  'rolled',
  'leaked',
  'reported',
  'offboarding',
] as const;
export type ApiKeyRevokedReason = (typeof API_KEY_REVOKED_REASONS)[number];

export const API_KEY_STATUSES = ['ACTIVE', 'DISABLED', 'EXPIRED', 'REVOKED'] as const;
export type ApiKeyStatus = (typeof API_KEY_STATUSES)[number];

@Entity('api_keys')
@Check('chk_api_keys_origin', `"origin" IN ('minted', 'provisioned', 'provider')`)
// A provider's key is exactly one with a billing provider.
@Check('chk_api_keys_provider_origin', `("origin" = 'provider') = ("billing_provider_id" IS NOT NULL)`)
@Check(
  'chk_api_keys_revoked_reason',
  `"revoked_reason" IN ('user', 'admin', 'provisioning', 'rolled', 'leaked', 'reported', 'offboarding')`,
)
@Check('chk_api_keys_reason_only_revoked', `"revoked_reason" IS NULL OR "revoked_at" IS NOT NULL`)
// With `id`: a user's keys page newest first by (created_at, id) without a sort (migration AddAdminInventory).
@Index('idx_api_keys_user_created', ['userId', 'createdAt', 'id'])
@Index('idx_api_keys_project', ['projectId'])
// The admin inventory's pages (newest first under each filter) and its `q` prefix searches (migration
// AddAdminInventory; expression indexes TypeORM cannot spell, hence synchronize: false).
@Index('idx_api_keys_created_id', ['createdAt', 'id'])
@Index('idx_api_keys_project_created', ['projectId', 'createdAt', 'id'])
@Index('idx_api_keys_label_search', { synchronize: false })
@Index('idx_api_keys_prefix_search', { synchronize: false })
// A user stores a key once: a provider key they submit again (whatever its shape) is a 409, not a second
// row. Per user, so that storing a key someone else also holds neither fails nor reveals their row.
@Index('uq_api_keys_user_key_hash', ['userId', 'keyHash'], { unique: true })
// A key is rolled once: one successor at most, whatever races (decision 0060).
@Index('uq_api_keys_predecessor', ['predecessorId'], { unique: true })
// A rolled key has its successor, its grace end and when it was rolled, all three or none.
@Check(
  'chk_api_keys_rolled',
  `("successor_id" IS NULL) = ("grace_ends_at" IS NULL) AND ("successor_id" IS NULL) = ("rolled_at" IS NULL) AND ("grace_unused_seconds" IS NULL OR "successor_id" IS NOT NULL)`,
)
export class ApiKey {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** Public lookup id: the 16 hex characters of `ksk_<keyId>_<secret>[_<checksum>]`; random 16 hex for a provider key. */
  @Column({ name: 'key_id', type: 'varchar', length: 64, unique: true })
  keyId: string;

  /** SHA-256 of the whole presented key, hex. */
  @Column({ name: 'key_hash', type: 'char', length: 64, select: false })
  keyHash: string;

  /**
   * Minted keys: the first 12 characters (`ksk_` and 8 of the public key id). Provider-issued keys: `****` and
   * their last 4 characters, nothing more of the key.
   */
  @Column({ name: 'key_prefix', type: 'varchar', length: 12 })
  keyPrefix: string;

  @Column({ type: 'varchar', length: 16 })
  origin: ApiKeyOrigin;

  /** Shown in the UI; provisioning uses it as the key's name. */
  @Column({ type: 'varchar', length: 100, nullable: true })
  label: string | null;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ name: 'project_id', type: 'uuid' })
  projectId: string;

  @ManyToOne(() => Project, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: Project;

  @Column({ name: 'billing_provider_id', type: 'uuid', nullable: true })
  billingProviderId: string | null;

  @ManyToOne(() => BillingProvider, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'billing_provider_id' })
  billingProvider?: BillingProvider | null;

  /**
   * The org (`ORG_ID`) whose admin minted this key from a session, recorded at mint; null for every other key.
   * The deprecated API-key admin tier accepts a key only while this equals the configured ORG_ID.
   */
  @Column({ name: 'admin_org_id', type: 'varchar', length: 255, nullable: true })
  adminOrgId: string | null;

  @Column({ name: 'allowed_origins', type: 'text', array: true, default: () => "'{}'" })
  allowedOrigins: string[];

  /** What the key may do, checked at resolve (`requiredScopes`) and carried in the JWT's `scope` claim. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  scopes: string[];

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  /** The M2M client of the last resolve (recorded with `last_used_at`); null before any. */
  @Column({ name: 'last_used_by', type: 'varchar', length: 255, nullable: true })
  lastUsedBy: string | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 16, nullable: true })
  revokedReason: ApiKeyRevokedReason | null;

  /** Switched off by its owner: refused like a revoked key until switched on again. */
  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt: Date | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  /** The key this one was rolled from (`POST …/keys/:id/roll`); null for a key minted or provisioned afresh. */
  @Column({ name: 'predecessor_id', type: 'uuid', nullable: true })
  predecessorId: string | null;

  @ManyToOne(() => ApiKey, { nullable: true })
  @JoinColumn({ name: 'predecessor_id', foreignKeyConstraintName: 'fk_api_keys_predecessor' })
  predecessor?: ApiKey | null;

  /** The key this one was rolled into; null until it is rolled. A key is rolled once. */
  @Column({ name: 'successor_id', type: 'uuid', nullable: true })
  successorId: string | null;

  @ManyToOne(() => ApiKey, { nullable: true })
  @JoinColumn({ name: 'successor_id', foreignKeyConstraintName: 'fk_api_keys_successor' })
  successor?: ApiKey | null;

  /** When it was rolled: where "unused for" counts from when the key has not been used since. */
  @Column({ name: 'rolled_at', type: 'timestamptz', nullable: true })
  rolledAt: Date | null;

  /**
   * A rolled key resolves until then (the earlier of its expiry and the roll's time plus its grace), or until it
   * goes `graceUnusedSeconds` without a resolve, whichever comes first (src/api-keys/grace.ts, decision 0060).
   */
  @Column({ name: 'grace_ends_at', type: 'timestamptz', nullable: true })
  graceEndsAt: Date | null;

  /** The roll's `endGraceWhenUnusedFor` (seconds), or null. */
  @Column({ name: 'grace_unused_seconds', type: 'integer', nullable: true })
  graceUnusedSeconds: number | null;
}
