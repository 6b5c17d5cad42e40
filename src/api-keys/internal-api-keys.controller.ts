import { Body, Controller, Header, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import {
  ProvisionApiKeyDto,
  ProvisionApiKeyResponseDto,
  ResolveApiKeyDto,
  ResolveApiKeyResponseDto,
} from 'src/api-keys/dto/internal-api-keys.dto';
import { ResolveKeyBodyPipe } from 'src/api-keys/dto/resolve-key-body.pipe';
import { InternalApiKeysService } from 'src/api-keys/internal-api-keys.service';
import { ProvisioningService } from 'src/api-keys/provisioning.service';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { M2MAuth } from 'src/auth/auth.decorators';
import { RateLimit } from 'src/http/throttling';

@ApiTags('internal')
@Controller('api/v1/internal')
export class InternalApiKeysController {
  constructor(
    private readonly provisioning: ProvisioningService,
    private readonly internal: InternalApiKeysService,
  ) {}

  @Post('provision-apikey')
  @HttpCode(200)
  @M2MAuth('provision:apikey')
  @RateLimit('provision')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Provision a user’s API key (server to server).',
    description:
      'Finds or creates the user by `externalId` and their default project, then in one transaction revokes ' +
      'the user’s live keys named `keyName` and mints a new one. Concurrent calls for one user leave exactly ' +
      'one live key of that name. `orgId` must be in PROVISION_ALLOWED_ORG_IDS.',
  })
  @ApiOkResponse({
    type: ProvisionApiKeyResponseDto,
    description: 'The plaintext key, shown once (no-store).',
  })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiForbiddenResponse({
    description:
      'Missing scope or `orgId` not allowed (`forbidden`); the user is disabled (`identity_not_allowed`).',
  })
  provision(
    @Audit() ctx: AuditContext,
    @Body() dto: ProvisionApiKeyDto,
  ): Promise<ProvisionApiKeyResponseDto> {
    return this.provisioning.provision(ctx, dto);
  }

  @Post('api-keys/resolve')
  @HttpCode(200)
  @M2MAuth('apikeys:resolve')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Resolve a presented API key into its identity and a fresh 5-minute JWT.',
    description:
      'Results are cached per instance (live keys ≤ 60 s, refusals ≤ 10 s, 10k entries); a revoked key fails ' +
      'on the next call on every instance. The JWT is minted per call and never cached.',
  })
  @ApiOkResponse({ type: ResolveApiKeyResponseDto })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiUnauthorizedResponse({
    description:
      'No valid M2M JWT (`unauthorized`), or a malformed, unknown, revoked or expired key (`invalid_api_key`).',
  })
  @ApiForbiddenResponse({
    description: 'Missing scope (`forbidden`); the key’s user is disabled (`identity_not_allowed`).',
  })
  @ApiServiceUnavailableResponse({
    description: 'The database cannot be reached (`key_resolution_unavailable`, with Retry-After).',
  })
  @ApiBody({ type: ResolveApiKeyDto })
  // The hot route validates its body itself (ResolveKeyBodyPipe, the same 400s as ResolveApiKeyDto); the
  // parameter's type is a plain shape so the global ValidationPipe does not validate it a second time.
  resolve(
    @Body(ResolveKeyBodyPipe) body: { key: string },
  ): ResolveApiKeyResponseDto | Promise<ResolveApiKeyResponseDto> {
    return this.internal.resolve(body.key);
  }
}
