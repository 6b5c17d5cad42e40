import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BillingProvider } from 'src/billing-providers/billing-provider.entity';
import { billingProvidersConfig } from 'src/billing-providers/billing-providers.config';
import { BillingProvidersController } from 'src/billing-providers/billing-providers.controller';
import { BillingProvidersService } from 'src/billing-providers/billing-providers.service';
import { provideConfig } from 'src/config/config-slice';

/** The billing providers a developer can store keys of or link (BILLING_PROVIDERS, synchronised at start). */
@Module({
  imports: [TypeOrmModule.forFeature([BillingProvider])],
  controllers: [BillingProvidersController],
  providers: [provideConfig(billingProvidersConfig), BillingProvidersService],
  exports: [BillingProvidersService],
})
export class BillingProvidersModule {}
