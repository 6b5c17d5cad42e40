import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { BillingProvider } from 'src/billing-providers/billing-provider.entity';
import { User } from 'src/users/user.entity';

/**
 * Where a session is in the handoff. `exchanging` is the claim a callback takes before it calls the provider,
 * so two callbacks never both exchange; answers report it as `pending`.
 */
export const OAUTH_SESSION_STATUSES = [
  'pending',
  'exchanging',
  'complete',
  'redeemed',
  'expired',
  'failed',
] as const;
export type OAuthSessionStatus = (typeof OAUTH_SESSION_STATUSES)[number];

/**
 * One provider login handoff: started by a user, completed by the provider's redirect, redeemed by the user's
 * poll. Everything a second instance needs is here; nothing lives in process memory.
 */
@Entity('oauth_sessions')
@Index('idx_oauth_sessions_expires_at', ['expiresAt'])
@Index('idx_oauth_sessions_user', ['userId'])
@Check('chk_oauth_sessions_status', `"status" IN (${OAUTH_SESSION_STATUSES.map((s) => `'${s}'`).join(', ')})`)
// The key exists exactly while the session is complete and unredeemed.
@Check(
  'chk_oauth_sessions_key',
  `("status" = 'complete') = ("provider_key" IS NOT NULL AND "enc_key_version" IS NOT NULL)`,
)
export class OAuthSession {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ name: 'billing_provider_id', type: 'uuid' })
  billingProviderId: string;

  @ManyToOne(() => BillingProvider, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'billing_provider_id' })
  billingProvider?: BillingProvider;

  /**
   * SHA-256 (hex) of the `state` handed to the provider. The state itself is never stored: a read of this
   * table cannot complete anyone's login.
   */
  @Column({ name: 'state_hash', type: 'char', length: 64, unique: true, select: false })
  stateHash: string;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status: OAuthSessionStatus;

  /** The provider's API key, encrypted (AES-256-GCM, see oauth-sessions.encrypted-table.ts); NULL once redeemed. */
  @Column({ name: 'provider_key', type: 'bytea', nullable: true, select: false })
  providerKey: Buffer | null;

  @Column({ name: 'enc_key_version', type: 'integer', nullable: true })
  encKeyVersion: number | null;

  /**
   * SHA-256 (hex) of the one-time completion code the callback page hands to the settings UI window that
   * opened it; the key is released only to a poll that presents the code. Set when the session completes.
   */
  @Column({ name: 'completion_code_hash', type: 'char', length: 64, nullable: true, select: false })
  completionCodeHash: string | null;

  /** Wrong completion codes presented so far; the fifth fails the session. */
  @Column({ name: 'completion_attempts', type: 'integer', default: 0 })
  completionAttempts: number;

  /** Why the session failed: a code (oauth-sessions.errors.ts), never a provider's message or a secret. */
  @Column({ name: 'failure_reason', type: 'varchar', length: 64, nullable: true })
  failureReason: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @Column({ name: 'redeemed_at', type: 'timestamptz', nullable: true })
  redeemedAt: Date | null;
}
