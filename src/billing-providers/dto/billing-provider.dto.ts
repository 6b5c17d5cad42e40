import { ApiProperty } from '@nestjs/swagger';

export class BillingProviderDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  /** @example acme-billing */
  slug: string;

  /** @example "Acme Billing" */
  name: string;
}

export class BillingProvidersResponseDto {
  /** Enabled providers, ordered by name. */
  @ApiProperty({ type: [BillingProviderDto] }) // items: see swagger-plugin.ts-jest.js
  providers: BillingProviderDto[];
}
