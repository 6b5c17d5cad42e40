import { Body, Controller, HttpCode, Post } from '@nestjs/common';
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
import { ApiKeyResolutionService } from 'src/api-key-resolution/api-key-resolution.service';
import { ResolveApiKeyDto, ResolveApiKeyResponseDto } from 'src/api-key-resolution/dto/resolve-api-key.dto';
import { ResolveKeyBodyPipe } from 'src/api-key-resolution/dto/resolve-key-body.pipe';
import { M2MAuth } from 'src/auth/auth.decorators';
import { CurrentPrincipal } from 'src/auth/current-principal.decorator';
import type { M2MPrincipal } from 'src/auth/principal';

@ApiTags('internal')
@Controller('api/v1/internal')
export class ApiKeyResolutionController {
  constructor(private readonly resolution: ApiKeyResolutionService) {}

  @Post('api-keys/resolve')
  @HttpCode(200)
  @M2MAuth('apikeys:resolve')
  @ApiOperation({
    // Kept from before the surface was split in two controllers: generated clients name methods after it.
    operationId: 'InternalApiKeysController_resolve',
    summary: 'Resolve a presented API key into its identity and a fresh 5-minute JWT.',
    description:
      'Results are cached per instance (live keys ≤ 60 s, refusals ≤ 10 s, 10k entries); a revoked key fails ' +
      'on the next call on every instance. The JWT is minted per call and never cached. Each 200 records the ' +
      'calling M2M client as a consumer of the key (shown by `GET /api/v1/developer/keys/:id`).',
  })
  @ApiOkResponse({ type: ResolveApiKeyResponseDto })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiUnauthorizedResponse({
    description:
      'No valid M2M JWT (`unauthorized`), or a malformed, unknown, revoked or expired key (`invalid_api_key`).',
  })
  @ApiForbiddenResponse({
    description:
      'Missing scope (`forbidden`); the key’s user is disabled (`identity_not_allowed`); the live key lacks ' +
      'some of `requiredScopes` (`insufficient_scope`, `details` naming the missing ones).',
  })
  @ApiServiceUnavailableResponse({
    description: 'The database cannot be reached (`key_resolution_unavailable`, with Retry-After).',
  })
  @ApiBody({ type: ResolveApiKeyDto })
  // The hot route validates its body itself (ResolveKeyBodyPipe, the same 400s as ResolveApiKeyDto); the
  // parameter's type is a plain shape so the global ValidationPipe does not validate it a second time.
  resolve(
    @Body(ResolveKeyBodyPipe) body: { key: string; requiredScopes?: string[] },
    // The client a resolve is recorded for (the key's consumers, lastUsedBy).
    @CurrentPrincipal('m2m') principal: M2MPrincipal,
  ): ResolveApiKeyResponseDto | Promise<ResolveApiKeyResponseDto> {
    return this.resolution.resolve(body.key, body.requiredScopes, principal.clientId);
  }
}
