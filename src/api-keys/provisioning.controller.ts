import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ProvisionApiKeyDto, ProvisionApiKeyResponseDto } from 'src/api-keys/dto/provisioning.dto';
import { PROVISION_RATE_LIMIT } from 'src/api-keys/provisioning.rate-limits';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { M2MAuth } from 'src/auth/auth.decorators';
import { CurrentPrincipal } from 'src/auth/current-principal.decorator';
import type { M2MPrincipal } from 'src/auth/principal';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';

@ApiTags('internal')
@Controller('api/v1/internal')
export class ProvisioningController {
  constructor(private readonly provisioning: ProvisioningService) {}

  @Post('provision-apikey')
  @HttpCode(200)
  @M2MAuth('provision:apikey')
  @RateLimit(PROVISION_RATE_LIMIT)
  @ApiOperation({
    // Kept from before the surface was split in two controllers: generated clients name methods after it.
    operationId: 'InternalApiKeysController_provision',
    summary: 'Provision a user’s API key (server to server).',
    description:
      '`orgId` must be one the calling client may serve (PROVISION_CLIENTS, within PROVISION_ALLOWED_ORG_IDS). ' +
      'Finds or creates the user by `externalId` (email and name are written only for a user provisioning ' +
      'created for an org this client serves) and their default project, then in one transaction revokes the ' +
      'user’s live keys named `keyName` that provisioning minted, and mints a new one. Keys the user minted or ' +
      'stored in the settings UI are never revoked. Concurrent calls for one user leave exactly one live ' +
      'provisioned key of that name.',
  })
  @ApiOkResponse({
    type: ProvisionApiKeyResponseDto,
    description: 'The plaintext key, shown once (no-store).',
  })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiForbiddenResponse({
    description:
      'Missing scope, or `orgId` not one this client may serve (`forbidden`); the user is disabled ' +
      '(`identity_not_allowed`).',
  })
  provision(
    @Audit() ctx: AuditContext,
    @CurrentPrincipal('m2m') principal: M2MPrincipal,
    @Body() dto: ProvisionApiKeyDto,
  ): Promise<ProvisionApiKeyResponseDto> {
    return this.provisioning.provision(ctx, principal.clientId, dto);
  }
}
