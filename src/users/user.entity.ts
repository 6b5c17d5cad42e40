import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity('users')
// The admin user list (newest first) and its `q` prefix searches (migration AddAdminInventory).
@Index('idx_users_created_id', ['createdAt', 'id'])
@Index('idx_users_external_id_search', { synchronize: false })
@Index('idx_users_email_search', { synchronize: false })
@Index('idx_users_name_search', { synchronize: false })
export class User {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The identity provider's subject: a session JWT's `sub`, or provisioning's `externalId`. */
  @Column({ name: 'external_id', type: 'varchar', length: 255, unique: true })
  externalId: string;

  @Column({ type: 'varchar', length: 320, nullable: true })
  email: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  name: string | null;

  /**
   * The org a provisioning call created this user for; null for a user first seen in the settings UI. Only
   * provisioning clients that may serve this org write the user's email and name.
   */
  @Column({ name: 'provisioned_org_id', type: 'varchar', length: 255, nullable: true })
  provisionedOrgId: string | null;

  /** A disabled user's keys resolve to 403 identity_not_allowed. */
  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
