import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { BillingProvider } from 'src/billing-providers/billing-provider.entity';
import {
  billingProvidersConfig,
  type BillingProviderConfig,
  type BillingProvidersConfig,
} from 'src/billing-providers/billing-providers.config';

/**
 * The billing-provider catalog. BILLING_PROVIDERS (validated by the config loader, which stops the start
 * on a bad entry) is the source of truth: every start upserts its entries by slug, and a provider that is
 * no longer listed is disabled rather than deleted, because stored keys still reference it.
 */
@Injectable()
export class BillingProvidersService implements OnModuleInit {
  private readonly logger = new Logger('BillingProviders');

  constructor(
    @Inject(billingProvidersConfig.KEY) private readonly config: BillingProvidersConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.sync(this.config.providers);
  }

  /** Upserts `providers` by slug and disables the rest, in one transaction (instances may start together). */
  async sync(providers: BillingProviderConfig[]): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      for (const p of providers) {
        await m.query(
          `INSERT INTO billing_providers (slug, name, auth_url, api_base, enabled) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (slug) DO UPDATE SET
             name = EXCLUDED.name, auth_url = EXCLUDED.auth_url, api_base = EXCLUDED.api_base,
             enabled = EXCLUDED.enabled, updated_at = now()
           WHERE (billing_providers.name, billing_providers.auth_url, billing_providers.api_base,
                  billing_providers.enabled)
                 IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.auth_url, EXCLUDED.api_base, EXCLUDED.enabled)`,
          [p.slug, p.name, p.authUrl, p.apiBase, p.enabled],
        );
      }
      await m.query(
        `UPDATE billing_providers SET enabled = false, updated_at = now()
          WHERE enabled AND NOT (slug = ANY($1::text[]))`,
        [providers.map((p) => p.slug)],
      );
    });
    this.logger.log(
      { enabled: providers.filter((p) => p.enabled).map((p) => p.slug) },
      'billing providers synchronised',
    );
  }

  /** Enabled providers, ordered by name. */
  listEnabled(): Promise<BillingProvider[]> {
    return this.dataSource.getRepository(BillingProvider).find({
      where: { enabled: true },
      order: { name: 'ASC', slug: 'ASC' },
    });
  }

  /** The enabled provider `id`, or null (unknown and disabled look the same). */
  findEnabled(id: string, manager?: EntityManager): Promise<BillingProvider | null> {
    return (manager ?? this.dataSource.manager)
      .getRepository(BillingProvider)
      .findOneBy({ id, enabled: true });
  }

  /** The enabled provider with `slug`, or null (unknown and disabled look the same). */
  findEnabledBySlug(slug: string, manager?: EntityManager): Promise<BillingProvider | null> {
    return (manager ?? this.dataSource.manager)
      .getRepository(BillingProvider)
      .findOneBy({ slug, enabled: true });
  }
}
