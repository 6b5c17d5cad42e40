import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { M2MAuth } from 'src/auth/auth.decorators';
import { AccessTokensService } from 'src/credentials/access-tokens.service';
import { CREDENTIALS_ACCESS_TOKEN_RATE_LIMIT } from 'src/credentials/credentials.rate-limits';
import { AccessTokenDto, AccessTokenRequestDto } from 'src/credentials/dto/access-token.dto';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';

@ApiTags('internal')
@Controller('api/v1/internal/mcp-oauth-credentials')
export class AccessTokensController {
  constructor(private readonly tokens: AccessTokensService) {}

  @Post('access-token')
  @HttpCode(200)
  @M2MAuth('credentials:use')
  @RateLimit(CREDENTIALS_ACCESS_TOKEN_RATE_LIMIT)
  @ApiOperation({
    summary: 'A fresh access token for a user’s MCP server (server to server)',
    description:
      'Runs the refresh-token grant (RFC 6749 §6) at the stored token endpoint with the stored client ' +
      'authentication and stores a rotated refresh token; the refresh token itself is never returned. A ' +
      'still-valid access token is served from an encrypted cache until 60 s before it expires. Concurrent ' +
      'calls for one credential, on any instance, share one refresh. A deposited `resource` (RFC 8707) is ' +
      'sent with every refresh.',
  })
  @ApiOkResponse({ type: AccessTokenDto, description: 'Sent with `Cache-Control: no-store`.' })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiNotFoundResponse({ description: 'No credential for this user and server (`not_found`).' })
  @ApiConflictResponse({
    description:
      'The token endpoint refused the refresh token, or the client secret expired: the user must deposit ' +
      'again (`reauthorization_required`).',
  })
  @ApiBadGatewayResponse({
    description:
      'The token endpoint did not issue a token (`upstream_failed`); the stored credential is unchanged. ' +
      '`error.reason` says why, from a fixed list (never the provider’s text): `host_refused` (the ' +
      'outbound policy refused the host or every address it resolved to; nothing was sent), ' +
      '`client_rejected` (401, 403, `invalid_client`, `unauthorized_client`), `request_rejected` (another ' +
      '4xx), `provider_unavailable` (unreachable, 5xx, 429), `timeout`, `invalid_response` (a redirect, no ' +
      'access token, over 64 KiB), `backing_off` (not tried: after CREDENTIALS_FAILURES_BEFORE_BACKOFF ' +
      'failures in a row the credential backs off, 30 s doubling to 10 min). `Retry-After` is set while ' +
      'the credential backs off, including on the failure that starts the backoff. A call that waited ' +
      'while another instance’s refresh of the credential failed answers that failure without calling ' +
      'again. The list shows each credential’s health (`status`, `consecutiveFailures`, `lastFailure`).',
  })
  @ApiServiceUnavailableResponse({
    description:
      'No encryption key (`encryption_key_missing`), or no refresh slot free (`service_unavailable`, with ' +
      '`Retry-After`): the user’s share (CREDENTIALS_MAX_REFRESHES_PER_USER), the token endpoint host’s ' +
      '(CREDENTIALS_MAX_REFRESHES_PER_HOST) or the instance’s (CREDENTIALS_MAX_CONCURRENT_REFRESHES) is ' +
      'in use. Answered at once: a refresh never waits for another user’s.',
  })
  accessToken(@Audit() ctx: AuditContext, @Body() dto: AccessTokenRequestDto): Promise<AccessTokenDto> {
    return this.tokens.accessToken(ctx, dto);
  }
}
