import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BillingProvidersService } from 'src/billing-providers/billing-providers.service';
import { BillingProvidersResponseDto } from 'src/billing-providers/dto/billing-provider.dto';
import { SessionAuth } from 'src/auth/auth.decorators';
import { BrowserCallable } from 'src/http/cors';

@ApiTags('developer')
@Controller('api/v1/billing-providers')
export class BillingProvidersController {
  constructor(private readonly providers: BillingProvidersService) {}

  @Get()
  @SessionAuth()
  @BrowserCallable()
  @ApiOperation({ summary: 'List the enabled billing providers (from BILLING_PROVIDERS), ordered by name' })
  @ApiOkResponse({ type: BillingProvidersResponseDto })
  async list(): Promise<BillingProvidersResponseDto> {
    const providers = await this.providers.listEnabled();
    return { providers: providers.map(({ id, slug, name }) => ({ id, slug, name })) };
  }
}
