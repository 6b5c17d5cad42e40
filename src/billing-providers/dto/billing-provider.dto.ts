import { ApiProperty } from '@nestjs/swagger';

export class BillingProviderDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'acme-billing' })
  slug: string;

  @ApiProperty({ example: 'Acme Billing' })
  name: string;
}

export class BillingProvidersResponseDto {
  @ApiProperty({ type: [BillingProviderDto], description: 'Enabled providers, ordered by name.' })
  providers: BillingProviderDto[];
}
