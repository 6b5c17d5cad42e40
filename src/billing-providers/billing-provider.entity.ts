import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Upserted at start from BILLING_PROVIDERS, keyed by slug. */
@Entity('billing_providers')
export class BillingProvider {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  slug: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Column({ name: 'auth_url', type: 'varchar', length: 2048 })
  authUrl: string;

  @Column({ name: 'api_base', type: 'varchar', length: 2048 })
  apiBase: string;

  @Column({ type: 'boolean', default: true })
  enabled: boolean;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
